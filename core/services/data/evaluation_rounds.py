"""A round of the annual evaluation, as the platform admin runs it: open it (year, institutions, subsidy
budget, deadlines; the indicator tree and rules in force are copied into it), change its deadlines,
assign experts to institutions (never to their own) and follow the progress."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any, Sequence

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.config import Settings
from core.errors import BusinessRuleViolation, Conflict, InvalidInput, NotFound
from core.models import (EvaluationAssignment, EvaluationEntry, EvaluationRound, EvaluationScore,
                         EvaluationSelfReport, Institution, Role, User)
from core.models._types import local_today
from core.services.data import evaluation_input as check
from core.services.data.evaluation_tree import Tree, load_tree_dict, parse_tree
from core.services.people.authz import require_role

STATUS_LABELS = {"open": "进行中", "published": "已发布"}
MAX_BUDGET_CNY = 10**10


def load_round(session: Session, round_id: int, lock: bool = False) -> EvaluationRound:
    found = session.get(EvaluationRound, round_id, with_for_update=lock) if 0 < round_id < 2**31 else None
    if found is None:
        raise NotFound("没有这一轮评价。", code="round_not_found")
    return found


def tree_of(round_: EvaluationRound) -> Tree:
    return parse_tree(round_.tree)


def load_entry(session: Session, round_id: int, institution_id: int, lock: bool = False) -> EvaluationEntry:
    query = select(EvaluationEntry).where(EvaluationEntry.round_id == round_id,
                                          EvaluationEntry.institution_id == institution_id)
    entry = session.scalar(query.with_for_update() if lock else query)
    if entry is None:
        raise NotFound("该机构不在这一轮评价中。", code="entry_not_found")
    return entry


def open_round(session: Session, actor: User, settings: Settings, *, year: Any, title: Any, budget_cny: Any,
               institution_ids: Sequence[Any], self_report_due: Any, scoring_due: Any,
               appeal_days: Any) -> EvaluationRound:
    """Every input is checked before anything is written; the tree file in force is validated here."""
    require_role(actor, Role.platform_admin)
    today = local_today(settings.orders.timezone)
    year_ = check.whole(year, "评价年度", minimum=2000, maximum=today.year)
    name = check.text(title, "标题", limit=200, required=False) or f"{year_} 年度大型科研仪器开放共享评价考核"
    budget = check.money_fen(budget_cny, "补助经费预算（元）")
    if budget > MAX_BUDGET_CNY * 100:
        raise InvalidInput("补助经费预算超出范围。", code="out_of_range")
    due_report, due_scoring = check.day(self_report_due, "自评报告截止日期"), check.day(scoring_due, "专家评分截止日期")
    days = check.whole(appeal_days, "申诉期（天）", minimum=1, maximum=365)
    if due_scoring < due_report:
        raise InvalidInput("专家评分截止日期不能早于自评报告截止日期。", code="invalid_deadlines")
    chosen = check.ids(list(institution_ids), "参评机构")
    if not chosen:
        raise InvalidInput("请至少选择一个参评机构。", code="institutions_required")
    found = set(session.scalars(select(Institution.id).where(Institution.id.in_(chosen))))
    if missing := [i for i in chosen if i not in found]:
        raise InvalidInput(f"没有这些机构：{missing}。", code="institution_not_found")
    if session.scalar(select(EvaluationRound.id).where(EvaluationRound.year == year_)) is not None:
        raise Conflict(f"{year_} 年度的评价已经开启，每个年度只有一轮。", code="round_exists")
    tree = load_tree_dict(settings.evaluation.tree_file, settings.data.national_external_hours)
    round_ = EvaluationRound(year=year_, title=name, status="open", tree=tree, rules=settings.evaluation.snapshot(),
                             budget_fen=budget, self_report_due=due_report, scoring_due=due_scoring,
                             appeal_days=days, created_by_id=actor.id or None)
    session.add(round_)
    session.flush()
    session.add_all(EvaluationEntry(round_id=round_.id, institution_id=i, status="open", rectification=False,
                                    version=0) for i in chosen)
    session.flush()
    return round_


def set_deadlines(session: Session, actor: User, round_id: int, self_report_due: Any, scoring_due: Any,
                  appeal_days: Any) -> EvaluationRound:
    require_role(actor, Role.platform_admin)
    round_ = load_round(session, round_id, lock=True)
    if round_.status != "open":
        raise BusinessRuleViolation("结果已发布，不能再修改截止日期。", code="round_published")
    due_report, due_scoring = check.day(self_report_due, "自评报告截止日期"), check.day(scoring_due, "专家评分截止日期")
    days = check.whole(appeal_days, "申诉期（天）", minimum=1, maximum=365)
    if due_scoring < due_report:
        raise InvalidInput("专家评分截止日期不能早于自评报告截止日期。", code="invalid_deadlines")
    round_.self_report_due, round_.scoring_due, round_.appeal_days = due_report, due_scoring, days
    session.flush()
    return round_


def experts(session: Session) -> list[User]:
    return list(session.scalars(select(User).where(User.role == Role.expert, User.active.is_(True))
                                .order_by(User.display_name, User.id)))


def _expert(session: Session, expert_id: int) -> User:
    user = session.get(User, expert_id) if 0 < expert_id < 2**31 else None
    if user is None or user.role != Role.expert or not user.active:
        raise InvalidInput("所选账号不是有效的评审专家。", code="not_an_expert")
    return user


@dataclass(frozen=True)
class AssignOutcome:
    added: int
    already: int
    # (expert, institution) pairs left out because the expert belongs to the institution
    conflicts: list[tuple[str, str]]


def assign_experts(session: Session, actor: User, round_id: int, expert_ids: Sequence[Any],
                   institution_ids: Sequence[Any]) -> AssignOutcome:
    """Each chosen expert to each chosen institution of the round, except their own (回避): a bulk
    assignment leaves those pairs out and says so; assigning one expert to their own institution alone
    is refused."""
    require_role(actor, Role.platform_admin)
    round_ = load_round(session, round_id, lock=True)
    if round_.status != "open":
        raise BusinessRuleViolation("结果已发布，不能再分配专家。", code="round_published")
    chosen_experts = [_expert(session, i) for i in check.ids(list(expert_ids), "评审专家")]
    chosen = check.ids(list(institution_ids), "机构")
    if not chosen_experts or not chosen:
        raise InvalidInput("请至少选择一位专家和一个机构。", code="selection_required")
    institutions = {e.institution_id: e for e in session.scalars(select(EvaluationEntry).where(
        EvaluationEntry.round_id == round_id, EvaluationEntry.institution_id.in_(chosen)))}
    if len(institutions) != len(chosen):
        raise NotFound("所选机构不在这一轮评价中。", code="entry_not_found")
    names = dict(session.execute(select(Institution.id, Institution.name).where(Institution.id.in_(chosen))).all())
    pairs = [(x, i) for x in chosen_experts for i in chosen]
    conflicts = [(x.display_name, names[i]) for x, i in pairs if x.institution_id == i]
    if conflicts and len(conflicts) == len(pairs):
        expert, institution = conflicts[0]
        raise BusinessRuleViolation(f"专家{expert}属于{institution}，须回避，不能评审本单位。",
                                    code="conflict_of_interest")
    existing = set(session.execute(select(EvaluationAssignment.expert_id, EvaluationAssignment.institution_id)
                                   .where(EvaluationAssignment.round_id == round_id)).all())
    added = already = 0
    for expert, institution_id in pairs:
        if expert.institution_id == institution_id:
            continue
        if (expert.id, institution_id) in existing:
            already += 1
            continue
        session.add(EvaluationAssignment(round_id=round_id, institution_id=institution_id, expert_id=expert.id))
        added += 1
    session.flush()
    return AssignOutcome(added, already, conflicts)


def unassign(session: Session, actor: User, round_id: int, assignment_id: int) -> None:
    """Take an expert off an institution before publication; their scores for it go with them."""
    require_role(actor, Role.platform_admin)
    round_ = load_round(session, round_id, lock=True)
    if round_.status != "open":
        raise BusinessRuleViolation("结果已发布，不能再调整专家。", code="round_published")
    assignment = session.get(EvaluationAssignment, assignment_id) if 0 < assignment_id < 2**31 else None
    if assignment is None or assignment.round_id != round_id:
        raise NotFound("没有这项专家分配。", code="assignment_not_found")
    session.delete(assignment)
    session.flush()


@dataclass(frozen=True)
class RoundRow:
    round: EvaluationRound
    institutions: int
    assignments: int
    signed: int


def list_rounds(session: Session) -> list[RoundRow]:
    rounds = list(session.scalars(select(EvaluationRound).order_by(EvaluationRound.year.desc())))
    entries = dict(session.execute(select(EvaluationEntry.round_id, func.count())
                                   .group_by(EvaluationEntry.round_id)).all())
    counts = {r: (n, s) for r, n, s in session.execute(
        select(EvaluationAssignment.round_id, func.count(), func.count(EvaluationAssignment.signed_at))
        .group_by(EvaluationAssignment.round_id)).all()}
    return [RoundRow(r, entries.get(r.id, 0), *counts.get(r.id, (0, 0))) for r in rounds]


@dataclass(frozen=True)
class ExpertTask:
    assignment_id: int
    expert_id: int
    expert_name: str
    scored: int
    signed_at: Any


@dataclass(frozen=True)
class Progress:
    entry: EvaluationEntry
    institution: Institution
    self_report: EvaluationSelfReport | None
    tasks: list[ExpertTask]

    @property
    def signed(self) -> int:
        return sum(1 for t in self.tasks if t.signed_at is not None)


def progress(session: Session, round_id: int) -> list[Progress]:
    """Per institution of the round: its self-report and each assigned expert's scoring and signature."""
    rows = session.execute(select(EvaluationEntry, Institution)
                           .join(Institution, Institution.id == EvaluationEntry.institution_id)
                           .where(EvaluationEntry.round_id == round_id).order_by(Institution.code)).all()
    reports = {r.institution_id: r for r in session.scalars(
        select(EvaluationSelfReport).where(EvaluationSelfReport.round_id == round_id))}
    scored = dict(session.execute(select(EvaluationScore.assignment_id, func.count()).join(
        EvaluationAssignment, EvaluationAssignment.id == EvaluationScore.assignment_id)
        .where(EvaluationAssignment.round_id == round_id).group_by(EvaluationScore.assignment_id)).all())
    tasks: dict[int, list[ExpertTask]] = {}
    for a, user in session.execute(select(EvaluationAssignment, User)
                                   .join(User, User.id == EvaluationAssignment.expert_id)
                                   .where(EvaluationAssignment.round_id == round_id)
                                   .order_by(User.display_name, EvaluationAssignment.id)).all():
        tasks.setdefault(a.institution_id, []).append(
            ExpertTask(a.id, user.id, user.display_name, scored.get(a.id, 0), a.signed_at))
    return [Progress(entry, inst, reports.get(inst.id), tasks.get(inst.id, [])) for entry, inst in rows]


def today_in(settings: Settings) -> date:
    return local_today(settings.orders.timezone)
