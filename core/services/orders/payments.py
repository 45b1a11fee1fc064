"""Paying an order's cash part: opening a payment with the provider and handling
its notifications (verified, idempotent, and harmless when bogus)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.config import Settings
from core.errors import Conflict, InvalidInput, NotFound
from core.models import Order, OrderStatus, Payment, User
from core.models._types import utcnow
from core.payment_providers import PaymentProvider
from core.payment_providers.base import PayRequest
from core.services.orders import escrow, slots, vouchers
from core.services.orders import lifecycle as orders


@dataclass(frozen=True)
class PaymentStart:
    order: Order
    params: dict[str, Any]


def start_payment(session: Session, actor: User, number: str, provider: PaymentProvider, settings: Settings,
                  client_ip: str) -> PaymentStart:
    order = orders.load_order(session, actor, number, lock=True)
    if order.user_id != actor.id:
        raise NotFound(f"No order {number}.", code="order_not_found")
    if order.expires_at is not None and slots.as_utc(order.expires_at) <= utcnow():
        raise Conflict("This order was not paid in time; place it again.", code="order_expired")
    first = order.status == OrderStatus.created
    orders.move(session, order, "start_payment", actor, None if first else "payment retried")
    if first:
        vouchers.reserve(session, order)  # the voucher part is set aside from the first payment attempt on
    if order.cash_cents == 0:
        orders.mark_paid(session, order, settings)
        return PaymentStart(order, {"provider": "none", "paid": True})
    attempt = session.scalar(select(func.count(Payment.id)).where(Payment.order_id == order.id)) + 1
    payment = Payment(order_id=order.id, provider=provider.name, out_trade_no=f"{order.number}P{attempt}",
                      amount_cents=order.cash_cents)
    session.add(payment)
    session.flush()
    params = provider.start(PayRequest(payment.out_trade_no, payment.amount_cents, order.service.name[:40],
                                       actor.wechat_openid, client_ip))
    return PaymentStart(order, params)


def handle_notification(session: Session, provider: PaymentProvider, body: bytes, settings: Settings) -> str:
    """Apply a provider's payment notification. Returns 'paid', 'duplicate' or 'refunded_late'.
    A bad signature, an unknown trade number or a wrong amount raise and change nothing."""
    notice = provider.parse_notification(body)
    payment = session.scalar(select(Payment).where(Payment.out_trade_no == notice.out_trade_no).with_for_update())
    if payment is None or payment.provider != provider.name:
        raise NotFound(f"No payment {notice.out_trade_no}.", code="payment_not_found")
    if payment.status == "paid":
        return "duplicate"
    if notice.amount_cents != payment.amount_cents:
        raise InvalidInput(f"The notified amount {notice.amount_cents} differs from the payment's "
                           f"{payment.amount_cents}.", code="amount_mismatch")
    order = session.get(Order, payment.order_id, with_for_update=True)
    assert order is not None
    payment.status, payment.paid_at = "paid", utcnow()
    payment.provider_transaction_id = notice.transaction_id
    escrow.take_payment(session, order, payment)
    if order.status in (OrderStatus.created, OrderStatus.awaiting_payment):
        orders.mark_paid(session, order, settings)
        return "paid"
    # the money arrived after the order expired or was cancelled: give it straight back
    escrow.refund_late_payment(session, order, payment)
    return "refunded_late"


def payment_for_refund(session: Session, order_id: int) -> tuple[Order, Payment | None, int]:
    """The job's view: the order, its paid payment and the cash still to send back."""
    order = session.get(Order, order_id)
    if order is None:
        raise NotFound(f"No order {order_id}.")
    payment = session.scalar(select(Payment).where(Payment.order_id == order_id, Payment.status == "paid")
                             .order_by(Payment.id).with_for_update())
    if payment is None:
        return order, None, 0
    owed = escrow.refunds_recorded(session, order) - payment.refunded_cents
    return order, payment, max(0, owed)
