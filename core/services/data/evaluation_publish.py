"""Results of a round: computed live before publication (the console's preview), then published as a
snapshot per institution with its grade, rank and subsidy, and each institution notified with its appeal
window. After an accepted appeal only that institution is re-scored and re-published: the others keep
their published points, the ranking and the subsidy split are redone (still summing to the budget)."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.errors import BusinessRuleViolation
from core.evaluation_rules import GRADE_LABELS
from core.models import (EvaluationAppeal, EvaluationAssignment, EvaluationEntry, EvaluationRound, EvaluationScore,
                         Institution, Role, User)
from core.models._types import utcnow
from core.services.data.evaluation_indicators import measure
from core.services.data.evaluation_rounds import load_entry, load_round, tree_of
from core.services.data.evaluation_scoring import ExpertScore, InstitutionResult, compose, finalise
from core.services.people.authz import require_role
from core.services.people.notifications import notify


def _expert_scores(session: Session, round_id: int, institution_id: int) -> dict[str, list[ExpertScore]]:
    """The signed experts' scores per indicator (unsigned ones are drafts and do not count)."""
    found: dict[str, list[ExpertScore]] = {}
    for score, user in session.execute(
            select(EvaluationScore, User)
            .join(EvaluationAssignment, EvaluationAssignment.id == EvaluationScore.assignment_id)
            .join(User, User.id == EvaluationAssignment.expert_id)
            .where(EvaluationAssignment.round_id == round_id, EvaluationAssignment.institution_id == institution_id,
                   EvaluationAssignment.signed_at.is_not(None)).order_by(User.id)).all():
        found.setdefault(score.indicator, []).append(
            ExpertScore(user.id, user.display_name, score.points, score.comment))
    return found


def institution_result(session: Session, round_: EvaluationRound, institution: Institution,
                       tz: str) -> InstitutionResult:
    """One institution's points as they stand now (platform data of the round's year, signed scores)."""
    return compose(tree_of(round_), institution.id, institution.code, institution.name,
                   measure(session, institution.id, round_.year, tz),
                   _expert_scores(session, round_.id, institution.id), round_.rules["trim_min_experts"])


def _institutions(session: Session, round_id: int) -> list[tuple[EvaluationEntry, Institution]]:
    return [(e, i) for e, i in session.execute(
        select(EvaluationEntry, Institution).join(Institution, Institution.id == EvaluationEntry.institution_id)
        .where(EvaluationEntry.round_id == round_id).order_by(Institution.code)).all()]


def preview(session: Session, round_id: int, tz: str) -> tuple[list[InstitutionResult], str | None]:
    """Every institution's result as if published now, ranked, with the subsidy split."""
    round_ = load_round(session, round_id)
    results = [institution_result(session, round_, inst, tz) for _, inst in _institutions(session, round_id)]
    note = finalise(results, round_.budget_fen, round_.rules)
    return results, note


def unsigned(session: Session, round_id: int, institution_id: int | None = None) -> list[str]:
    """What stops publication: institutions without an expert, experts who have not signed."""
    problems = []
    query = select(EvaluationAssignment, User).join(User, User.id == EvaluationAssignment.expert_id).where(
        EvaluationAssignment.round_id == round_id)
    if institution_id is not None:
        query = query.where(EvaluationAssignment.institution_id == institution_id)
    tasks: dict[int, list[tuple[EvaluationAssignment, User]]] = {}
    for a, user in session.execute(query).all():
        tasks.setdefault(a.institution_id, []).append((a, user))
    for entry, inst in _institutions(session, round_id):
        if institution_id is not None and inst.id != institution_id:
            continue
        if not tasks.get(inst.id):
            problems.append(f"{inst.name}：尚未分配专家")
        waiting = [u.display_name for a, u in tasks.get(inst.id, []) if a.signed_at is None]
        if waiting:
            problems.append(f"{inst.name}：{'、'.join(waiting)} 尚未签名")
    return problems


@dataclass
class _Standing:
    """A published entry as the ranking and the split need it."""
    institution_id: int
    code: str
    total: float
    tie_score: float
    grade: str = ""
    rank: int = 0
    subsidy_fen: int = 0


def _store(entry: EvaluationEntry, result: Any, snapshot: dict[str, Any] | None, now: Any) -> None:
    """A new snapshot publishes the entry; without one only its standing (grade, rank, subsidy) changes
    and its status stays (another institution reopened by its own appeal stays reopened)."""
    if snapshot is not None:
        entry.result, entry.total, entry.tie_score = snapshot, result.total, result.tie_score
        entry.version += 1
        entry.published_at, entry.status = now, "published"
    entry.grade, entry.rank, entry.subsidy_fen = result.grade, result.rank, result.subsidy_fen
    entry.rectification = result.grade == "poor"


def _admins(session: Session, institution_id: int) -> list[User]:
    return list(session.scalars(select(User).where(User.institution_id == institution_id, User.active.is_(True),
                                                   User.role == Role.institution_admin)))


def _tell(session: Session, round_: EvaluationRound, entry: EvaluationEntry, title: str, lead: str) -> None:
    body = (f"{lead}总分 {entry.total:.2f}，等级 {GRADE_LABELS[entry.grade or 'poor']}，排名第 {entry.rank} 名，"
            f"补助经费 ¥{(entry.subsidy_fen or 0) / 100:,.2f}。")
    if entry.rectification:
        body += "评为较差，不安排补助经费，须整改一年。"
    if round_.appeal_deadline:
        body += f"如有异议，请在 {round_.appeal_deadline.isoformat()} 前在工作台“年度评价”中提出申诉。"
    for admin in _admins(session, entry.institution_id):
        notify(session, admin.id, "evaluation_result", title, body)


def publish(session: Session, actor: User, round_id: int, tz: str, today: date) -> list[InstitutionResult]:
    """Publish every institution's result once every assigned expert has signed."""
    require_role(actor, Role.platform_admin)
    round_ = load_round(session, round_id, lock=True)
    if round_.status != "open":
        raise BusinessRuleViolation("这一轮评价的结果已经发布。", code="round_published")
    if problems := unsigned(session, round_id):
        raise BusinessRuleViolation("还不能发布：" + "；".join(problems) + "。", code="scoring_incomplete",
                                    details={"problems": problems})
    results, note = preview(session, round_id, tz)
    now = utcnow()
    round_.status, round_.published_at, round_.payout_note = "published", now, note
    round_.appeal_deadline = today + timedelta(days=round_.appeal_days)
    entries = {e.institution_id: e for e, _ in _institutions(session, round_id)}
    for result in results:
        _store(entries[result.institution_id], result, result.snapshot(), now)
    session.flush()
    for result in results:
        _tell(session, round_, entries[result.institution_id], f"{round_.year} 年度评价结果已发布",
              f"贵单位在{round_.title}中")
    return results


def republish(session: Session, actor: User, round_id: int, institution_id: int, tz: str) -> EvaluationEntry:
    """After an accepted appeal and the experts' new signatures: re-score that institution only."""
    require_role(actor, Role.platform_admin)
    round_ = load_round(session, round_id, lock=True)
    entry = load_entry(session, round_id, institution_id, lock=True)
    if entry.status != "reopened":
        raise BusinessRuleViolation("该机构没有因申诉重新评分，无需重新发布。", code="not_reopened")
    if problems := unsigned(session, round_id, institution_id):
        raise BusinessRuleViolation("还不能重新发布：" + "；".join(problems) + "。", code="scoring_incomplete",
                                    details={"problems": problems})
    institution = session.get(Institution, institution_id)
    assert institution is not None
    fresh = institution_result(session, round_, institution, tz)
    others = {e.institution_id: e for e, _ in _institutions(session, round_id) if e.institution_id != institution_id}
    codes = dict(session.execute(select(Institution.id, Institution.code).where(Institution.id.in_(others))).all())
    standings: list[Any] = [fresh] + [_Standing(i, codes[i], e.total or 0.0, e.tie_score or 0.0)
                                      for i, e in others.items()]
    round_.payout_note = finalise(standings, round_.budget_fen, round_.rules)
    now = utcnow()
    before = {i: (e.rank, e.subsidy_fen) for i, e in others.items()}
    _store(entry, fresh, fresh.snapshot(), now)
    for standing in standings:  # finalise() sorted them: the appealing institution is anywhere
        if standing.institution_id != institution_id:
            _store(others[standing.institution_id], standing, None, now)
    appeal = session.scalar(select(EvaluationAppeal).where(EvaluationAppeal.round_id == round_id,
                                                           EvaluationAppeal.institution_id == institution_id))
    if appeal is not None and appeal.status == "accepted":
        appeal.status = "resolved"
    session.flush()
    _tell(session, round_, entry, f"{round_.year} 年度评价结果已更新", "经申诉复核，贵单位")
    for i, other in others.items():
        if before[i] != (other.rank, other.subsidy_fen):
            _tell(session, round_, other, f"{round_.year} 年度评价排名或补助已调整",
                  "因其他机构申诉复核，排名与补助经费重新计算（贵单位得分不变）：")
    return entry
