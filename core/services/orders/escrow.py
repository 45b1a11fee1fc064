"""Money movements of an order's lifecycle, all through the ledger.

Cash goes payer → escrow at payment and escrow → lab / payer at the end; the
voucher part goes fund → escrow when reserved and escrow → lab (consumed) or
back to the fund (released). Cash owed back to the payer becomes refund rows in
the same transaction (orders.refunds), which the job outbox delivers.
"""
from __future__ import annotations

from sqlalchemy.orm import Session

from core.config import VoucherRules
from core.models import Order, Payment
from core.services.orders import refunds, vouchers
from core.services.orders.ledger import escrow, lab, payer, post


def take_payment(session: Session, order: Order, payment: Payment) -> None:
    # the ref is unique: a second credit of one payment fails in the database
    post(session, "payment", order.id, [(payer(order.user_id), escrow(order.id), payment.amount_cents)],
         memo=payment.out_trade_no, ref=f"payment:{payment.id}")


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
    if cash_back > 0:
        refunds.refund_order_cash(session, order, cash_back, "订单退款" if not lab_fee_cents else "订单部分退款")
    if paid and cash_to_lab:
        refunds.share_with_lab(session, order, cash_to_lab)


def refund_late_payment(session: Session, order: Order, payment: Payment) -> None:
    post(session, "refund", order.id, [(escrow(order.id), payer(order.user_id), payment.amount_cents)],
         memo="paid after the order closed", ref=f"late-refund:{payment.id}")
    refunds.refund_payment_in_full(session, order, payment, "订单已关闭后到账的付款，原路退回")
