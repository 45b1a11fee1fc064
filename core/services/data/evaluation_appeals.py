"""Appeals (申诉): an institution admin appeals against the published result within the appeal window
(one appeal per institution and round); the platform admin rejects it with a reply, or accepts it, which
reopens that institution alone: its experts' signatures are lifted so they can re-score and sign again,
and the other institutions are untouched until the re-publication (evaluation_publish.republish)."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.errors import BusinessRuleViolation, Conflict, NotFound
from core.models import EvaluationAppeal, EvaluationAssignment, EvaluationRound, Institution, Role, User
from core.models._types import utcnow
from core.services.data import evaluation_input as check
from core.services.data.evaluation_rounds import load_entry, load_round
from core.services.people.authz import require_role
from core.services.people.notifications import notify

STATUS_LABELS = {"pending": "待处理", "accepted": "已受理，重新评分中", "rejected": "已驳回", "resolved": "已复核并重新发布"}
REASON_MIN, REASON_MAX, REPLY_MAX = 10, 2000, 2000


def appeal_open(round_: EvaluationRound, today: date) -> bool:
    return round_.status == "published" and round_.appeal_deadline is not None and today <= round_.appeal_deadline


def appeal_of(session: Session, round_id: int, institution_id: int) -> EvaluationAppeal | None:
    return session.scalar(select(EvaluationAppeal).where(EvaluationAppeal.round_id == round_id,
                                                         EvaluationAppeal.institution_id == institution_id))


def file_appeal(session: Session, actor: User, round_id: int, reason: Any, today: date) -> EvaluationAppeal:
    require_role(actor, Role.institution_admin)
    round_ = load_round(session, round_id, lock=True)
    if actor.institution_id is None:
        raise NotFound("该机构不在这一轮评价中。", code="entry_not_found")
    entry = load_entry(session, round_id, actor.institution_id)
    if round_.status != "published" or entry.result is None:
        raise BusinessRuleViolation("结果尚未发布，还不能申诉。", code="not_published")
    if not appeal_open(round_, today):
        raise BusinessRuleViolation(f"申诉期已于 {round_.appeal_deadline} 结束。", code="appeal_closed")
    text = check.text(reason, "申诉理由", limit=REASON_MAX, minimum=REASON_MIN)
    if appeal_of(session, round_id, actor.institution_id) is not None:
        raise Conflict("贵单位已就本轮评价提出过申诉，每轮只能申诉一次。", code="appeal_exists")
    appeal = EvaluationAppeal(round_id=round_id, institution_id=actor.institution_id, reason=text, status="pending",
                              filed_by_id=actor.id, filed_by_name=actor.display_name)
    session.add(appeal)
    session.flush()
    institution = session.get(Institution, actor.institution_id)
    for admin in session.scalars(select(User).where(User.role == Role.platform_admin, User.active.is_(True))):
        notify(session, admin.id, "evaluation_appeal", f"{round_.year} 年度评价收到申诉",
               f"{institution.name if institution else ''}提出申诉：{text[:200]}")
    return appeal


def decide_appeal(session: Session, actor: User, round_id: int, appeal_id: int, accept: Any,
                  reply: Any) -> EvaluationAppeal:
    """Accept (reopen that institution for its experts) or reject, with a reply the institution reads."""
    require_role(actor, Role.platform_admin)
    round_ = load_round(session, round_id, lock=True)
    appeal = session.get(EvaluationAppeal, appeal_id) if 0 < appeal_id < 2**31 else None
    if appeal is None or appeal.round_id != round_id:
        raise NotFound("没有这项申诉。", code="appeal_not_found")
    if appeal.status != "pending":
        raise Conflict(f"这项申诉已处理（{STATUS_LABELS[appeal.status]}）。", code="appeal_decided")
    if not isinstance(accept, bool):
        raise BusinessRuleViolation("请选择受理或驳回。", code="decision_required")
    text = check.text(reply, "处理意见", limit=REPLY_MAX, required=not accept)
    entry = load_entry(session, round_id, appeal.institution_id, lock=True)
    appeal.status, appeal.reply = ("accepted" if accept else "rejected"), text or None
    appeal.decided_by_name, appeal.decided_at = actor.display_name, utcnow()
    appeal.previous = {"total": entry.total, "grade": entry.grade, "rank": entry.rank, "subsidy_fen": entry.subsidy_fen}
    institution = session.get(Institution, appeal.institution_id)
    name = institution.name if institution else ""
    if accept:
        entry.status = "reopened"
        tasks = list(session.scalars(select(EvaluationAssignment).where(
            EvaluationAssignment.round_id == round_id, EvaluationAssignment.institution_id == appeal.institution_id)))
        for task in tasks:
            task.signed_at, task.signed_name = None, None
            notify(session, task.expert_id, "evaluation_reopened", f"{round_.year} 年度评价：请复核{name}"[:100],
                   f"{name}的申诉已受理，请复核您对该机构的评分并重新签名确认。")
    session.flush()
    verdict = "已受理，专家将重新评分，复核后结果将重新发布" if accept else "未予受理"
    for admin in session.scalars(select(User).where(User.institution_id == appeal.institution_id,
                                                    User.role == Role.institution_admin, User.active.is_(True))):
        notify(session, admin.id, "evaluation_appeal_decided", f"{round_.year} 年度评价申诉处理结果",
               f"贵单位的申诉{verdict}。" + (f"处理意见：{text}" if text else ""))
    return appeal


@dataclass(frozen=True)
class AppealRow:
    appeal: EvaluationAppeal
    institution: Institution

    @property
    def status_label(self) -> str:
        return STATUS_LABELS[self.appeal.status]


def appeals(session: Session, round_id: int) -> list[AppealRow]:
    return [AppealRow(a, i) for a, i in session.execute(
        select(EvaluationAppeal, Institution).join(Institution, Institution.id == EvaluationAppeal.institution_id)
        .where(EvaluationAppeal.round_id == round_id).order_by(EvaluationAppeal.id)).all()]
