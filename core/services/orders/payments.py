"""Paying an order's cash part: opening a payment with the provider and handling
its notifications (verified, idempotent, and harmless when bogus)."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Mapping

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.config import Settings
from core.errors import Conflict, InvalidInput, NotFound
from core.models import Institution, Order, OrderStatus, Payment, User
from core.models._types import utcnow
from core.payment_providers import PaymentProvider
from core.payment_providers.base import PAYMENT_CLOSED, PAYMENT_PAID, PaymentState, PayRequest, RefundNotice
from core.queue import CHECK_PAYMENT_JOB, defer
from core.services.orders import escrow, refunds, slots, vouchers
from core.services.orders import lifecycle as orders


CHECK_AFTER_EXPIRY = timedelta(minutes=2)


@dataclass(frozen=True)
class PaymentStart:
    order: Order
    params: dict[str, Any]


def start_payment(session: Session, actor: User, number: str, provider: PaymentProvider, settings: Settings,
                  client_ip: str) -> PaymentStart:
    order = orders.load_order(session, actor, number, lock=True)
    if order.user_id != actor.id:
        raise NotFound(f"没有订单 {number}。", code="order_not_found")
    if order.expires_at is not None and slots.as_utc(order.expires_at) <= utcnow():
        raise Conflict("该订单未在规定时间内付款，已失效，请重新下单。", code="order_expired")
    first = order.status == OrderStatus.created
    orders.move(session, order, "start_payment", actor, None if first else "重新发起付款")
    if first:
        vouchers.reserve(session, order)  # the voucher part is set aside from the first payment attempt on
    else:
        vouchers.check_still_entitled(session, order)
    if order.cash_cents == 0:
        orders.mark_paid(session, order, settings)
        return PaymentStart(order, {"provider": "none", "paid": True})
    attempt = session.scalar(select(func.count(Payment.id)).where(Payment.order_id == order.id)) + 1
    institution = session.get(Institution, order.institution_id)
    # escrow at the provider: frozen until settlement splits it, when the lab can receive a split
    frozen = provider.supports_profit_sharing and bool(institution and institution.payee_account)
    payment = Payment(order_id=order.id, provider=provider.name, out_trade_no=f"{order.number}P{attempt}",
                      amount_cents=order.cash_cents, profit_sharing=frozen)
    session.add(payment)
    session.flush()
    # if the notification never comes, ask the provider once the order's payment window has passed
    defer(session, CHECK_PAYMENT_JOB, payment.id, at=slots.as_utc(order.expires_at or utcnow()) + CHECK_AFTER_EXPIRY)
    params = provider.start(PayRequest(payment.out_trade_no, payment.amount_cents, order.service.name[:40],
                                       actor.wechat_openid, client_ip, profit_sharing=frozen))
    return PaymentStart(order, params)


def handle_notification(session: Session, provider: PaymentProvider, body: bytes, headers: Mapping[str, str],
                        settings: Settings) -> str:
    """Apply a provider's payment or refund notification. Returns 'paid', 'duplicate', 'refunded_late'
    or the refund's status. A bad signature, an unknown trade number or a wrong amount raise and change nothing."""
    notice = provider.parse_notification(body, headers)
    if isinstance(notice, RefundNotice):
        return refunds.apply_refund_state(session, notice.state)
    payment = session.scalar(select(Payment).where(Payment.out_trade_no == notice.out_trade_no).with_for_update())
    if payment is None or payment.provider != provider.name:
        raise NotFound(f"没有付款单 {notice.out_trade_no}。", code="payment_not_found")
    return record_payment(session, payment, notice.transaction_id, notice.amount_cents, settings)


def record_payment(session: Session, payment: Payment, transaction_id: str, amount_cents: int, settings: Settings) -> str:
    """The provider says `payment` succeeded (a notification or a query). Idempotent; the caller holds its lock."""
    if payment.status == "paid":
        return "duplicate"
    if amount_cents != payment.amount_cents:
        raise InvalidInput(f"通知金额 {amount_cents} 分与付款单金额 {payment.amount_cents} 分不符。",
                           code="amount_mismatch")
    order = session.get(Order, payment.order_id, with_for_update=True)
    assert order is not None
    payment.status, payment.paid_at = "paid", utcnow()
    payment.provider_transaction_id = transaction_id
    escrow.take_payment(session, order, payment)
    if order.status in (OrderStatus.created, OrderStatus.awaiting_payment):
        orders.mark_paid(session, order, settings)
        return "paid"
    # the money arrived after the order expired or was cancelled, or paid it a second time: give it straight back
    escrow.refund_late_payment(session, order, payment)
    return "refunded_late"


def payment_to_check(session: Session, payment_id: int) -> Payment | None:
    """A payment whose outcome we have not heard (no notification yet), for the job that asks."""
    payment = session.get(Payment, payment_id)
    return payment if payment is not None and payment.status == "pending" else None


def apply_payment_state(session: Session, payment_id: int, state: PaymentState, settings: Settings) -> str:
    """Settle an unknown payment from a query of the provider."""
    payment = session.get(Payment, payment_id, with_for_update=True)
    if payment is None or payment.status != "pending":
        return payment.status if payment else "missing"
    if state.status == PAYMENT_PAID and state.transaction_id and state.amount_cents is not None:
        return record_payment(session, payment, state.transaction_id, state.amount_cents, settings)
    if state.status == PAYMENT_CLOSED:
        payment.status = "closed"
        return "closed"
    return "pending"
