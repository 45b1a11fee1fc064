"""入网审核: institutions, instruments and listings go live only after a platform admin approves them.

An object is written as a draft (by its institution's admin in the workbench, or by an import without
--approve), submitted, then approved, rejected with a reason (back to draft) or sent back for changes.
Each decision is kept in the audit log (ReviewEvent) and the submitter's institution is notified.
Changes to something already live wait as pending revisions (revisions.py). Approval marks the
affected listings in the search index outbox, so they appear in search once the sync runs.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.errors import Conflict, InvalidInput, NotFound
from core.models import Institution, Instrument, OnboardingStatus, Role, Service, User
from core.models.review import APPROVED, DRAFT, NEEDS_CHANGES, SUBMITTED, ReviewEvent
from core.services.catalog.index_outbox import mark_stale, services_of_institution
from core.services.people.authz import require_role
from core.services.people.notifications import notify
from core.services.people.staff_alerts import notify_admins

KINDS = {"institution": "机构", "instrument": "仪器", "service": "检测服务"}
STATUS_LABELS = {DRAFT: "草稿", SUBMITTED: "待审核", NEEDS_CHANGES: "待修改", APPROVED: "已通过",
                 "suspended": "已暂停"}
ACTION_LABELS = {"submitted": "提交审核", "approved": "审核通过", "rejected": "驳回（退回草稿）",
                 "needs_changes": "要求修改", "revision_submitted": "提交修改", "revision_approved": "修改通过",
                 "revision_rejected": "修改驳回", "imported": "导入（待审核）", "imported_approved": "批量导入并直接通过",
                 "drafted": "新建草稿"}
# the institution's status values that mean the same as the others' review status
_INSTITUTION = {DRAFT: OnboardingStatus.draft, SUBMITTED: OnboardingStatus.pending,
                NEEDS_CHANGES: OnboardingStatus.needs_changes, APPROVED: OnboardingStatus.approved}
MAX_REASON = 500


@dataclass
class Reviewable:
    kind: str
    obj: Any  # Institution | Instrument | Service
    institution: Institution

    @property
    def code(self) -> str:
        return str(self.obj.code)

    @property
    def name(self) -> str:
        return str(self.obj.name)

    @property
    def status(self) -> str:
        if self.kind == "institution":
            value = self.obj.status.value
            return {v.value: k for k, v in _INSTITUTION.items()}.get(value, value)
        return str(self.obj.review_status)

    def set_status(self, status: str) -> None:
        if self.kind == "institution":
            self.obj.status = _INSTITUTION[status]
        else:
            self.obj.review_status = status

    def listings(self, session: Session) -> list[str]:
        """The listing codes whose visibility follows this object's."""
        if self.kind == "institution":
            return services_of_institution(session, self.obj.id)
        if self.kind == "instrument":
            return list(session.scalars(select(Service.code).where(Service.instrument_id == self.obj.id)))
        return [self.code]


def find(session: Session, kind: str, code: str) -> Reviewable:
    if kind == "institution":
        inst = session.scalar(select(Institution).where(Institution.code == code))
        if inst is not None:
            return Reviewable(kind, inst, inst)
    elif kind == "instrument":
        ins = session.scalar(select(Instrument).where(Instrument.code == code))
        if ins is not None:
            return Reviewable(kind, ins, ins.institution)
    elif kind == "service":
        svc = session.scalar(select(Service).where(Service.code == code))
        if svc is not None:
            return Reviewable(kind, svc, svc.instrument.institution)
    raise NotFound(f"没有{KINDS.get(kind, '对象')} {code}。", code="review_object_not_found")


def record(session: Session, kind: str, code: str, action: str, actor: User | None, reason: str | None = None,
           details: dict[str, Any] | None = None, actor_name: str | None = None) -> ReviewEvent:
    event = ReviewEvent(object_type=kind, object_code=code, action=action, reason=reason, details=details or {},
                        actor_id=actor.id if actor else None,
                        actor_name=(actor.display_name if actor else None) or actor_name or "系统")
    session.add(event)
    return event


def tell_institution(session: Session, institution_id: int, title: str, body: str) -> None:
    for person in session.scalars(select(User).where(
            User.institution_id == institution_id, User.active.is_(True), User.role == Role.institution_admin)):
        notify(session, person.id, "review", title, body)


def _reason(reason: str | None, required: bool) -> str | None:
    text = (reason or "").strip()
    if required and not text:
        raise InvalidInput("请写明理由，提交人会看到它。", code="reason_required", details={"field": "reason"})
    if len(text) > MAX_REASON:
        raise InvalidInput(f"理由最多 {MAX_REASON} 个字。", code="reason_too_long", details={"field": "reason"})
    return text or None


def submit(session: Session, actor: User | None, kind: str, code: str) -> Reviewable:
    """The institution's admin sends a draft (or one sent back for changes) to the platform."""
    user = require_role(actor, Role.institution_admin)
    item = find(session, kind, code)
    if item.institution.id != user.institution_id:
        raise NotFound(f"没有{KINDS[kind]} {code}。", code="review_object_not_found")
    if item.status not in (DRAFT, NEEDS_CHANGES):
        raise Conflict(f"{KINDS[kind]} {code} 当前为“{STATUS_LABELS.get(item.status, item.status)}”，不能再提交。",
                       code="not_a_draft")
    item.set_status(SUBMITTED)
    record(session, kind, code, "submitted", user)
    notify_admins(session, "review", "有新的入网审核申请",
                  f"{item.institution.name} 提交了{KINDS[kind]}“{item.name}”（{code}）的入网审核。")
    session.flush()
    return item


def decide(session: Session, actor: User | None, kind: str, code: str, decision: str,
           reason: str | None = None) -> Reviewable:
    """A platform admin approves, rejects (back to draft, reason required) or asks for changes."""
    admin = require_role(actor, Role.platform_admin)
    if decision not in ("approve", "reject", "needs_changes"):
        raise InvalidInput("审核结论须为 通过 / 驳回 / 要求修改。", code="invalid_decision")
    item = find(session, kind, code)
    if item.status != SUBMITTED:
        raise Conflict(f"{KINDS[kind]} {code} 不在待审核状态（当前：{STATUS_LABELS.get(item.status, item.status)}）。",
                       code="not_submitted")
    why = _reason(reason, required=decision != "approve")
    status, action, verdict = {"approve": (APPROVED, "approved", "已通过审核"),
                               "reject": (DRAFT, "rejected", "被驳回，已退回草稿"),
                               "needs_changes": (NEEDS_CHANGES, "needs_changes", "需要修改后重新提交")}[decision]
    item.set_status(status)
    record(session, kind, code, action, admin, why)
    mark_stale(session, item.listings(session))
    tell_institution(session, item.institution.id, f"入网审核：{KINDS[kind]}{verdict}",
                     f"{KINDS[kind]}“{item.name}”（{code}）{verdict}。" + (f"理由：{why}" if why else ""))
    session.flush()
    return item


def history(session: Session, kind: str, code: str) -> list[ReviewEvent]:
    return list(session.scalars(select(ReviewEvent).where(ReviewEvent.object_type == kind, ReviewEvent.object_code == code)
                                .order_by(ReviewEvent.at, ReviewEvent.id)))


def recent_decisions(session: Session, limit: int = 50) -> list[ReviewEvent]:
    return list(session.scalars(select(ReviewEvent).order_by(ReviewEvent.at.desc(), ReviewEvent.id.desc()).limit(limit)))


def waiting(session: Session) -> list[Reviewable]:
    """Everything submitted, institutions first, oldest first within a kind."""
    found = [Reviewable("institution", i, i) for i in session.scalars(
        select(Institution).where(Institution.status == OnboardingStatus.pending).order_by(Institution.id))]
    found += [Reviewable("instrument", i, i.institution) for i in session.scalars(
        select(Instrument).where(Instrument.review_status == SUBMITTED).order_by(Instrument.id))]
    found += [Reviewable("service", s, s.instrument.institution) for s in session.scalars(
        select(Service).where(Service.review_status == SUBMITTED).order_by(Service.id))]
    return found
