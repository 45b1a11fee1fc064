"""Money movements of an order's lifecycle, all through the ledger.

Cash goes payer → escrow at payment and escrow → lab / payer at the end; the
voucher part goes fund → escrow when reserved and escrow → lab (consumed) or
back to the fund (released). Refunds to the payer are recorded here and carried
out by a job (`refund_payment`) after commit, idempotently.
"""
from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.config import VoucherRules
from core.models import LedgerPosting, LedgerTransaction, Order, Payment
from core.queue import defer
from core.services.orders import vouchers
from core.services.orders.ledger import escrow, lab, payer, post

REFUND_JOB = "workers.jobs.refund_payment"


def take_payment(session: Session, order: Order, payment: Payment) -> None:
    post(session, "payment", order.id, [(payer(order.user_id), escrow(order.id), payment.amount_cents)],
         memo=payment.out_trade_no)


def close(session: Session, order: Order, lab_fee_cents: int, rules: VoucherRules, paid: bool = True) -> None:
    """Release escrow: `lab_fee_cents` to the lab, the rest back where it came from.
    The voucher pays at most the scheme's share of what the lab actually earns."""
    lab_fee_cents = max(0, min(lab_fee_cents, order.total_cents if paid else 0))
    voucher_used = min(order.voucher_cents, lab_fee_cents * rules.max_share_pct // 100)
    cash_to_lab = lab_fee_cents - voucher_used
    cash_back = (order.cash_cents if paid else 0) - cash_to_lab
    post(session, "settlement" if lab_fee_cents else "refund", order.id, [
        (escrow(order.id), lab(order.institution_id), lab_fee_cents),
        (escrow(order.id), payer(order.user_id), cash_back),
    ])
    vouchers.close_redemption(session, order, voucher_used)
    if cash_back:
        defer(session, REFUND_JOB, order.id)


def refunds_recorded(session: Session, order: Order) -> int:
    """Cash the ledger says the payer is owed back for this order."""
    return int(session.scalar(
        select(func.coalesce(func.sum(LedgerPosting.amount_cents), 0))
        .join(LedgerTransaction, LedgerTransaction.id == LedgerPosting.transaction_id)
        .where(LedgerTransaction.order_id == order.id, LedgerPosting.account == payer(order.user_id),
               LedgerPosting.amount_cents > 0)))


def refund_late_payment(session: Session, order: Order, payment: Payment) -> None:
    post(session, "refund", order.id, [(escrow(order.id), payer(order.user_id), payment.amount_cents)],
         memo="paid after the order closed")
    defer(session, REFUND_JOB, order.id)
