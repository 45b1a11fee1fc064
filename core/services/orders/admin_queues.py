"""What waits for a platform admin's decision: voucher applications and disputed orders, oldest first,
with what the decision needs to see. The decisions themselves are vouchers.decide_voucher and
lifecycle.resolve_dispute, the same as the JSON API's."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.models import (
    Institution, Order, OrderEvent, OrderStatus, Refund, Role, Service, User, VoucherApplication, VoucherStatus,
)
from core.services.people.authz import require_role


@dataclass(frozen=True)
class PendingVoucher:
    id: int
    company_name: str
    company_credit_code: str
    requested_cents: int
    purpose: str
    applicant: str
    applied_at: datetime


@dataclass(frozen=True)
class OpenDispute:
    number: str
    service_name: str
    institution_name: str
    customer: str  # company (contact)
    reason: str
    disputed_at: datetime
    total_cents: int
    voucher_cents: int
    cash_cents: int
    refunded_cents: int  # already sent back on refund rows, whatever their delivery state


@dataclass(frozen=True)
class QueueSizes:
    vouchers: int
    disputes: int

    @property
    def total(self) -> int:
        return self.vouchers + self.disputes


def queue_sizes(session: Session) -> QueueSizes:
    """The navigation badge's count (the caller has checked the admin role)."""
    vouchers = session.scalar(select(func.count(VoucherApplication.id))
                              .where(VoucherApplication.status == VoucherStatus.pending))
    disputes = session.scalar(select(func.count(Order.id)).where(Order.status == OrderStatus.disputed))
    return QueueSizes(int(vouchers or 0), int(disputes or 0))


def pending_vouchers(session: Session, actor: User) -> list[PendingVoucher]:
    require_role(actor, Role.platform_admin)
    rows = session.execute(
        select(VoucherApplication, User.display_name).join(User, User.id == VoucherApplication.user_id)
        .where(VoucherApplication.status == VoucherStatus.pending)
        .order_by(VoucherApplication.created_at, VoucherApplication.id))
    return [PendingVoucher(v.id, v.company_name, v.company_credit_code, v.requested_cents, v.purpose, applicant,
                           v.created_at) for v, applicant in rows]


def open_disputes(session: Session, actor: User) -> list[OpenDispute]:
    require_role(actor, Role.platform_admin)
    # the latest move into "disputed" carries the customer's reason and starts the wait
    last = (select(OrderEvent.order_id, func.max(OrderEvent.id).label("event_id"))
            .where(OrderEvent.to_status == OrderStatus.disputed.value).group_by(OrderEvent.order_id).subquery())
    refunded = (select(Refund.order_id, func.sum(Refund.amount_cents).label("cents"))
                .group_by(Refund.order_id).subquery())
    rows = session.execute(
        select(Order, Service.name, Institution.name, OrderEvent.reason, OrderEvent.at, refunded.c.cents)
        .join(Service, Service.id == Order.service_id).join(Institution, Institution.id == Order.institution_id)
        .outerjoin(last, last.c.order_id == Order.id).outerjoin(OrderEvent, OrderEvent.id == last.c.event_id)
        .outerjoin(refunded, refunded.c.order_id == Order.id)
        .where(Order.status == OrderStatus.disputed)
        .order_by(func.coalesce(OrderEvent.at, Order.updated_at), Order.id))
    return [OpenDispute(o.number, service, institution, f"{o.company_name}（{o.contact_name}）", reason or "",
                        at or o.updated_at, o.total_cents, o.voucher_cents, o.cash_cents, int(cents or 0))
            for o, service, institution, reason, at, cents in rows]


def default_valid_until(today: date, validity_days: int) -> date:
    """What the approval form proposes: the scheme's default validity, as decide_voucher would set it."""
    return today + timedelta(days=validity_days)
