"""Changes to a live listing that wait for review: the live version stays (search, booking, price)
until a platform admin approves the revision.

Reviewed: the price, the description, the sample requirements, and putting a listing back on the
shelf. Applied at once (docs/import-format.md, "Review"): the turnaround, the mailing address, and
taking a listing off the shelf — stopping bookings must never wait for anyone.
"""
from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.errors import Conflict, NotFound
from core.models import Role, Service, User
from core.models._types import utcnow
from core.models.review import PendingRevision
from core.services.catalog.index_outbox import mark_stale
from core.services.catalog.review import KINDS, _reason, record, tell_institution
from core.services.people.authz import require_role
from core.services.people.staff_alerts import notify_admins

REVIEWED_FIELDS = {"price_cny": "价格", "description": "服务说明", "sample_requirements": "样品要求", "active": "上架"}


def _json(value: Any) -> Any:
    return f"{value:.2f}" if isinstance(value, Decimal) else value  # money: yuan with its fen


def pending_of(session: Session, kind: str, code: str) -> PendingRevision | None:
    return session.scalar(select(PendingRevision).where(
        PendingRevision.object_type == kind, PendingRevision.object_code == code, PendingRevision.status == "pending")
        .order_by(PendingRevision.id.desc()).limit(1))


def propose(session: Session, actor: User, service: Service, values: dict[str, Any]) -> PendingRevision | None:
    """The reviewed part of an edit of a live listing: one pending revision per listing (a later edit
    replaces what it proposes for the same fields). None when nothing reviewed differs from the live version."""
    revision = pending_of(session, "service", service.code)
    changes = {f: c for f, c in (revision.changes if revision else {}).items() if f not in values}
    changes.update({field: {"from": _json(getattr(service, field)), "to": _json(value)}
                    for field, value in values.items() if getattr(service, field) != value})
    if not changes:
        if revision is not None:  # the lab went back to the live values: nothing left to review
            revision.status, revision.decided_at, revision.reason = "withdrawn", utcnow(), "提交人改回原值"
        return None
    if revision is None:
        revision = PendingRevision(object_type="service", object_code=service.code, changes=changes,
                                   submitted_by_id=actor.id, submitted_by_name=actor.display_name)
        session.add(revision)
        notify_admins(session, "review", "有新的修改待审核",
                      f"检测服务“{service.name}”（{service.code}）提交了修改：{describe(changes)}。")
    else:
        revision.changes, revision.submitted_at = changes, utcnow()
    record(session, "service", service.code, "revision_submitted", actor, details=changes)
    session.flush()
    return revision


def describe(changes: dict[str, Any]) -> str:
    def shown(value: Any) -> str:
        if isinstance(value, bool):
            return "上架" if value else "下架"
        text = "（空）" if value in (None, "") else str(value)
        return text if len(text) <= 40 else text[:40] + "…"
    return "；".join(f"{REVIEWED_FIELDS.get(f, f)}：{shown(c['from'])} → {shown(c['to'])}" for f, c in changes.items())


def waiting_revisions(session: Session) -> list[PendingRevision]:
    return list(session.scalars(select(PendingRevision).where(PendingRevision.status == "pending")
                                .order_by(PendingRevision.submitted_at)))


def decide_revision(session: Session, actor: User | None, revision_id: int, approve: bool,
                    reason: str | None = None) -> PendingRevision:
    """Approve (the changes go live) or reject (reason required; the live version stays)."""
    admin = require_role(actor, Role.platform_admin)
    revision = session.get(PendingRevision, revision_id, with_for_update=True)
    if revision is None:
        raise NotFound("没有这条待审核的修改。", code="revision_not_found")
    if revision.status != "pending":
        raise Conflict("这条修改已经处理过了。", code="revision_decided")
    why = _reason(reason, required=not approve)
    service = session.scalar(select(Service).where(Service.code == revision.object_code))
    if service is None:
        raise NotFound(f"没有{KINDS['service']} {revision.object_code}。", code="review_object_not_found")
    if approve:
        for field, change in revision.changes.items():
            value = change["to"]
            setattr(service, field, Decimal(value) if field == "price_cny" else value)
        mark_stale(session, [service.code])
    revision.status = "approved" if approve else "rejected"
    revision.decided_by_name, revision.decided_at, revision.reason = admin.display_name, utcnow(), why
    record(session, "service", service.code, "revision_approved" if approve else "revision_rejected", admin, why,
           revision.changes)
    verdict = "已通过，已生效" if approve else "被驳回，线上仍为原内容"
    tell_institution(session, service.instrument.institution_id, f"修改审核：{verdict}",
                     f"检测服务“{service.name}”的修改（{describe(revision.changes)}）{verdict}。"
                     + (f"理由：{why}" if why else ""))
    session.flush()
    return revision
