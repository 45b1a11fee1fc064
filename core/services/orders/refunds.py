"""Refunds and profit-sharing splits, one row per payment, delivered through the job outbox.

The ledger records what the payer is owed in the transaction that decides it;
this module turns that amount into refund rows in the same transaction, spread
over the order's paid payments (an order paid through two attempts is refunded
through both, each never above what it can still return). Each row has its own
stable `out_refund_no` and is tracked until the provider confirms it.
"""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.models import Institution, Order, Payment, ProfitShare, Refund, Role, User
from core.models._types import utcnow
from core.models.profit_share import SHARE_FAILED, SHARE_FINISHED, SHARE_PROCESSING
from core.models.refund import REFUND_FAILED, REFUND_PROCESSING, REFUND_REQUESTED, REFUND_SUCCEEDED
from core.payment_providers.base import (
    REFUND_FAILED as PROVIDER_FAILED, REFUND_SUCCEEDED as PROVIDER_SUCCEEDED, RefundRequest, RefundState, ShareRequest,
    ShareState,
)
from core.queue import CHECK_REFUND_JOB, SEND_PROFIT_SHARE_JOB, SEND_REFUND_JOB, defer
from core.services.people.notifications import notify

FINAL = frozenset({REFUND_SUCCEEDED, REFUND_FAILED})


class RefundExceedsPayments(RuntimeError):
    """The books say more is owed back than the order's payments took in: never paper over it."""


def _paid_payments(session: Session, order_id: int) -> list[Payment]:
    return list(session.scalars(select(Payment).where(Payment.order_id == order_id, Payment.status == "paid")
                                .order_by(Payment.id).with_for_update()))


def _new_refund(session: Session, order: Order, payment: Payment, cents: int, reason: str) -> Refund:
    number = session.scalar(select(func.count(Refund.id)).where(Refund.payment_id == payment.id)) + 1
    refund = Refund(order_id=order.id, payment_id=payment.id, out_refund_no=f"{payment.out_trade_no}R{number}",
                    amount_cents=cents, reason=reason[:200], status=REFUND_REQUESTED)
    payment.refunded_cents += cents  # the CHECK on payments refuses more than the payment took in
    session.add(refund)
    session.flush()
    defer(session, SEND_REFUND_JOB, refund.id)
    return refund


def allocate(rooms: list[int], cents: int) -> list[int]:
    """Split `cents` over payments that can each still return rooms[i], oldest first; never above a room."""
    if cents < 0 or cents > sum(max(0, r) for r in rooms):
        raise RefundExceedsPayments(f"{cents} cents owed back, but the payments can return only {sum(rooms)}")
    shares, remaining = [], cents
    for room in rooms:
        take = min(remaining, max(0, room))
        shares.append(take)
        remaining -= take
    return shares


def refund_order_cash(session: Session, order: Order, cents: int, reason: str) -> list[Refund]:
    """Send `cents` back to the payer, spread over the order's paid payments, oldest first."""
    paid = _paid_payments(session, order.id)
    shares = allocate([p.amount_cents - p.refunded_cents for p in paid], cents)
    return [_new_refund(session, order, p, take, reason) for p, take in zip(paid, shares) if take > 0]


def refund_payment_in_full(session: Session, order: Order, payment: Payment, reason: str) -> Refund | None:
    """Give back everything one payment can still return (it arrived after the order closed)."""
    room = payment.amount_cents - payment.refunded_cents
    return _new_refund(session, order, payment, room, reason) if room > 0 else None


def refund_request(session: Session, refund_id: int) -> tuple[Refund, str, RefundRequest] | None:
    """What the refund job sends, or None when the refund is settled already. Counts the attempt."""
    refund = session.get(Refund, refund_id, with_for_update=True)
    if refund is None or refund.status in FINAL:
        return None
    payment = session.get(Payment, refund.payment_id)
    assert payment is not None
    refund.attempts += 1
    return refund, payment.provider, RefundRequest(payment.out_trade_no, refund.out_refund_no, payment.amount_cents,
                                                   refund.amount_cents, refund.reason)


def apply_refund_state(session: Session, state: RefundState, recheck_after: timedelta = timedelta(minutes=2)) -> str:
    """Record what the provider says of a refund (its answer, a query, a notification). Idempotent:
    a final state is never changed again. Returns the refund's status afterwards."""
    refund = session.scalar(select(Refund).where(Refund.out_refund_no == state.out_refund_no).with_for_update())
    if refund is None:
        return "unknown"
    if refund.status in FINAL:
        return refund.status
    refund.provider_refund_id = state.refund_id or refund.provider_refund_id
    refund.sent_at = refund.sent_at or utcnow()
    if state.status == PROVIDER_SUCCEEDED:
        refund.status, refund.confirmed_at, refund.last_error = REFUND_SUCCEEDED, utcnow(), None
    elif state.status == PROVIDER_FAILED:
        mark_refund_failed(session, refund, state.message or "the provider closed the refund")
    else:
        refund.status = REFUND_PROCESSING
        defer(session, CHECK_REFUND_JOB, refund.id, at=utcnow() + recheck_after)
    session.flush()
    return refund.status


def mark_refund_failed(session: Session, refund: Refund, message: str) -> None:
    """A refund the provider refused for good: the money is still owed, so a person must act."""
    refund.status, refund.last_error = REFUND_FAILED, message[:2000]
    order = session.get(Order, refund.order_id)
    for admin in session.scalars(select(User).where(User.role == Role.platform_admin, User.active.is_(True))):
        notify(session, admin.id, "refund_failed", "退款失败，需人工处理",
               f"订单 {order.number if order else refund.order_id} 的退款 {refund.out_refund_no}"
               f"（{refund.amount_cents / 100:.2f} 元）被支付渠道拒绝：{message}", refund.order_id)


def fail_refund(session: Session, refund_id: int, message: str) -> None:
    """The provider refused the refund for good (the job's side)."""
    refund = session.get(Refund, refund_id, with_for_update=True)
    if refund is not None and refund.status not in FINAL:
        mark_refund_failed(session, refund, message)


def refund_to_check(session: Session, refund_id: int) -> tuple[str, str] | None:
    """(provider, out_refund_no) of a refund still under way, for the job that asks about it."""
    refund = session.get(Refund, refund_id)
    if refund is None or refund.status in FINAL:
        return None
    payment = session.get(Payment, refund.payment_id)
    assert payment is not None
    return payment.provider, refund.out_refund_no


def share_with_lab(session: Session, order: Order, lab_cash_cents: int) -> list[ProfitShare]:
    """At settlement: split each frozen payment, the lab's cash part to its payee and the rest unfrozen."""
    shares, remaining = [], lab_cash_cents
    for payment in _paid_payments(session, order.id):
        if not payment.profit_sharing:
            continue
        take = min(remaining, payment.amount_cents - payment.refunded_cents)
        if take <= 0:
            continue  # refunded in full, or the lab's part is already split from an earlier payment
        remaining -= take
        share = ProfitShare(order_id=order.id, payment_id=payment.id, out_order_no=f"{payment.out_trade_no}S",
                            amount_cents=take)
        session.add(share)
        session.flush()
        defer(session, SEND_PROFIT_SHARE_JOB, share.id)
        shares.append(share)
    return shares


def share_request(session: Session, share_id: int) -> tuple[ProfitShare, str, ShareRequest] | None:
    share = session.get(ProfitShare, share_id, with_for_update=True)
    if share is None or share.status in (SHARE_FINISHED, SHARE_FAILED):
        return None
    payment = session.get(Payment, share.payment_id)
    order = session.get(Order, share.order_id)
    assert payment is not None and order is not None and payment.provider_transaction_id
    institution = session.get(Institution, order.institution_id)
    assert institution is not None
    share.attempts += 1
    return share, payment.provider, ShareRequest(
        payment.provider_transaction_id, share.out_order_no, institution.payee_type or "MERCHANT_ID",
        institution.payee_account or "", share.amount_cents, f"订单{order.number}检测服务费", institution.payee_name or "")


def fail_share(session: Session, share_id: int, message: str) -> None:
    """The provider refused the split for good: the lab's money stays frozen until a person acts."""
    share = session.get(ProfitShare, share_id, with_for_update=True)
    if share is not None:
        share.status, share.last_error = SHARE_FAILED, message[:2000]


def apply_share_state(session: Session, share_id: int, state: ShareState) -> str:
    share = session.get(ProfitShare, share_id, with_for_update=True)
    assert share is not None
    share.provider_order_id = state.order_id or share.provider_order_id
    if state.status == "finished":
        share.status, share.finished_at = SHARE_FINISHED, utcnow()
    else:
        share.status = SHARE_PROCESSING
    session.flush()
    return share.status
