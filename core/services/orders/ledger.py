"""Double-entry postings and the invariant checks that prove nothing is created or lost."""
from __future__ import annotations

from collections import defaultdict

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.models import LedgerPosting, LedgerTransaction, Order, OrderStatus, VoucherRedemption

VOUCHER_FUND = "voucher_fund"

# orders whose money is still held: escrow must hold exactly what was paid in
HELD = frozenset({
    OrderStatus.paid, OrderStatus.accepted, OrderStatus.samples_received, OrderStatus.testing,
    OrderStatus.report_issued, OrderStatus.confirmed, OrderStatus.disputed,
})
AWAITING = frozenset({OrderStatus.created, OrderStatus.awaiting_payment})


def payer(user_id: int) -> str:
    return f"payer:{user_id}"


def escrow(order_id: int) -> str:
    return f"escrow:{order_id}"


def lab(institution_id: int) -> str:
    return f"lab:{institution_id}"


def post(session: Session, kind: str, order_id: int | None, moves: list[tuple[str, str, int]], memo: str = "",
         ref: str | None = None) -> None:
    """Record (from_account, to_account, cents) moves as one balanced transaction.
    `ref` names a movement that may happen only once (the database refuses a second)."""
    moves = [m for m in moves if m[2] != 0]
    if not moves:
        return
    if any(cents < 0 for _, _, cents in moves):
        raise ValueError("a ledger move is never negative; swap the accounts instead")
    tx = LedgerTransaction(kind=kind, order_id=order_id, memo=memo or None, ref=ref)
    session.add(tx)
    for source, target, cents in moves:
        tx.postings.append(LedgerPosting(account=source, amount_cents=-cents))
        tx.postings.append(LedgerPosting(account=target, amount_cents=cents))
    session.flush()


def balance(session: Session, account: str) -> int:
    return int(session.scalar(select(func.coalesce(func.sum(LedgerPosting.amount_cents), 0))
                              .where(LedgerPosting.account == account)))


def balances(session: Session) -> dict[str, int]:
    rows = session.execute(select(LedgerPosting.account, func.sum(LedgerPosting.amount_cents))
                           .group_by(LedgerPosting.account))
    return {account: int(total) for account, total in rows}


def ledger_problems(session: Session) -> list[str]:
    """Everything that would mean money was created, lost or misplaced; [] when the books balance."""
    problems: list[str] = []
    unbalanced = session.execute(
        select(LedgerPosting.transaction_id, func.sum(LedgerPosting.amount_cents))
        .group_by(LedgerPosting.transaction_id).having(func.sum(LedgerPosting.amount_cents) != 0)
    ).all()
    problems += [f"transaction {tx} does not balance: {total:+d}" for tx, total in unbalanced]
    totals = balances(session)
    if sum(totals.values()) != 0:
        problems.append(f"the ledger as a whole is off by {sum(totals.values()):+d} cents")
    for account, total in totals.items():
        if account.startswith("escrow:") and total < 0:
            problems.append(f"{account} is negative: {total}")
        if account.startswith("lab:") and total < 0:
            problems.append(f"{account} is negative: {total}")
    held: dict[int, int] = defaultdict(int)
    for order in session.scalars(select(Order).where(Order.status.in_(HELD))):
        held[order.id] = order.total_cents
    # before payment completes, escrow holds only the voucher part set aside for it
    for order_id, cents in session.execute(select(VoucherRedemption.order_id, VoucherRedemption.amount_cents)
                                           .join(Order, Order.id == VoucherRedemption.order_id)
                                           .where(VoucherRedemption.state == "reserved",
                                                  Order.status.in_(AWAITING))):
        held[order_id] = cents
    for account, total in totals.items():
        if account.startswith("escrow:"):
            order_id = int(account.split(":", 1)[1])
            expected = held.pop(order_id, 0)
            if total != expected:
                problems.append(f"{account} holds {total}, expected {expected}")
    problems += [f"escrow:{oid} holds nothing but the order is paid ({cents})" for oid, cents in held.items() if cents]
    return problems
