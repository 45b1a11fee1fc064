"""An institution's money as its lab sees it, all read from the ledger: what was settled to it per
order and per month (the voucher part and the cash part), what the platform holds or owes it now,
and the voucher redemptions behind the fund's statement."""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.errors import InvalidInput
from core.models import (
    Institution, LedgerPosting, LedgerTransaction, Order, Role, Service, User, VoucherApplication, VoucherRedemption,
)
from core.models._types import local_days
from core.services.orders import vouchers
from core.services.orders.ledger import AWAITING, HELD, balance, escrow, lab
from core.services.orders.lifecycle import STATUS_LABELS
from core.services.people.authz import require_role

MAX_PERIOD_DAYS = 366 * 5  # a longer period is a typo, and would read the whole ledger


@dataclass(frozen=True)
class SettledLine:
    """One credit to the lab's account: an order settled, or the lab's share of a cancellation."""
    settled_at: datetime  # UTC
    order_number: str
    service_name: str
    company_name: str
    status: str  # the order's status, in Chinese
    total_cents: int  # what the order cost the customer
    lab_cents: int  # what the lab's account was credited
    voucher_cents: int  # … of which the voucher fund pays
    cash_cents: int  # … and the customer's cash


@dataclass(frozen=True)
class MonthMoney:
    month: str  # YYYY-MM, local
    orders: int
    lab_cents: int
    voucher_cents: int
    cash_cents: int


@dataclass(frozen=True)
class HeldOrder:
    order_number: str
    status: str
    held_cents: int  # in escrow for this order now
    voucher_cents: int  # … of which the voucher part set aside for it


@dataclass(frozen=True)
class Owed:
    institution_code: str
    institution_name: str
    account_cents: int  # the lab account's balance: settled to the institution, owed by the platform
    voucher_cents: int  # … of which vouchers consumed (the voucher fund pays them)
    held: list[HeldOrder]  # escrow of the institution's open orders, not the institution's yet

    @property
    def held_cents(self) -> int:
        return sum(h.held_cents for h in self.held)


@dataclass(frozen=True)
class RedemptionLine:
    closed_at: datetime  # UTC
    order_number: str
    company_name: str
    voucher_id: int
    cents: int


def check_period(start: date, end: date) -> None:
    if end < start:
        raise InvalidInput("结束日期不能早于开始日期。", code="invalid_period")
    if (end - start).days > MAX_PERIOD_DAYS:
        raise InvalidInput("查询期间最长五年。", code="invalid_period")


def settled_lines(session: Session, institution_id: int, start: date, end: date, tz: str) -> list[SettledLine]:
    """Every credit to the institution's ledger account in the local days [start, end], oldest first."""
    check_period(start, end)
    lo, hi = local_days(start, end, tz)
    rows = session.execute(
        select(LedgerTransaction.created_at, LedgerPosting.amount_cents, Order.id, Order.number, Service.name,
               Order.company_name, Order.status, Order.total_cents)
        .join(LedgerTransaction, LedgerTransaction.id == LedgerPosting.transaction_id)
        .join(Order, Order.id == LedgerTransaction.order_id)
        .join(Service, Service.id == Order.service_id)
        .where(LedgerPosting.account == lab(institution_id), LedgerPosting.amount_cents > 0,
               LedgerTransaction.created_at >= lo, LedgerTransaction.created_at < hi)
        .order_by(LedgerTransaction.created_at, LedgerTransaction.id)
    ).all()
    # the voucher part is what the redemption consumed when escrow was released (escrow.close)
    vouchers = dict(session.execute(
        select(VoucherRedemption.order_id, VoucherRedemption.consumed_cents)
        .where(VoucherRedemption.order_id.in_({r.id for r in rows}), VoucherRedemption.state == "consumed")
    ).all()) if rows else {}
    out = []
    for at, cents, order_id, number, service, company, status, total in rows:
        voucher = min(cents, vouchers.pop(order_id, 0))  # counted once, should an order be credited twice
        out.append(SettledLine(at, number, service, company,
                               STATUS_LABELS.get(status, status.value), total, cents, voucher, cents - voucher))
    return out


def months_between(start: date, end: date) -> list[str]:
    months, year, month = [], start.year, start.month
    while (year, month) <= (end.year, end.month):
        months.append(f"{year:04d}-{month:02d}")
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return months


def per_month(lines: list[SettledLine], start: date, end: date, tz: str) -> list[MonthMoney]:
    """The lines summed per local month, every month of the period present (a chart has no gaps)."""
    zone = ZoneInfo(tz)
    sums: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    orders: dict[str, set[str]] = defaultdict(set)
    for line in lines:
        month = line.settled_at.astimezone(zone).strftime("%Y-%m")
        orders[month].add(line.order_number)
        for i, cents in enumerate((line.lab_cents, line.voucher_cents, line.cash_cents)):
            sums[month][i] += cents
    return [MonthMoney(m, len(orders[m]), *sums[m][:3]) for m in months_between(start, end)]


def owed_to_institution(session: Session, institution_id: int) -> Owed:
    """What the ledger says now: the lab account's balance, and the escrow of the open orders."""
    institution = session.get(Institution, institution_id)
    assert institution is not None
    voucher = session.scalar(select(func.coalesce(func.sum(VoucherRedemption.consumed_cents), 0))
                             .where(VoucherRedemption.institution_id == institution_id,
                                    VoucherRedemption.state == "consumed"))
    # escrow holds money only for open orders (ledger.HELD, and the voucher part before payment completes)
    open_orders = {escrow(oid): (number, status, part) for oid, number, status, part in session.execute(
        select(Order.id, Order.number, Order.status, Order.voucher_cents)
        .where(Order.institution_id == institution_id, Order.status.in_(HELD | AWAITING)))}
    held_rows = session.execute(
        select(LedgerPosting.account, func.sum(LedgerPosting.amount_cents))
        .where(LedgerPosting.account.in_(list(open_orders))).group_by(LedgerPosting.account)
    ).all() if open_orders else []
    held = []
    for account, cents in sorted(held_rows, key=lambda r: open_orders[r[0]][0]):
        number, status, part = open_orders[account]
        if cents:
            held.append(HeldOrder(number, STATUS_LABELS.get(status, status.value), int(cents), min(int(cents), part)))
    return Owed(institution.code, institution.name, balance(session, lab(institution_id)), int(voucher), held)


def redemption_lines(session: Session, institution_id: int, start: date, end: date, tz: str) -> list[RedemptionLine]:
    """The vouchers consumed at the institution behind vouchers.redemption_statement's total: the same
    local days, so the lines add up to its figure."""
    check_period(start, end)
    lo, hi = local_days(start, end, tz)
    rows = session.execute(
        select(VoucherRedemption.closed_at, Order.number, VoucherApplication.company_name,
               VoucherRedemption.voucher_id, VoucherRedemption.consumed_cents)
        .join(Order, Order.id == VoucherRedemption.order_id)
        .join(VoucherApplication, VoucherApplication.id == VoucherRedemption.voucher_id)
        .where(VoucherRedemption.institution_id == institution_id, VoucherRedemption.state == "consumed",
               VoucherRedemption.closed_at >= lo, VoucherRedemption.closed_at < hi)
        .order_by(VoucherRedemption.closed_at)
    ).all()
    return [RedemptionLine(at, number, company, vid, int(cents))
            for at, number, company, vid, cents in rows]


@dataclass(frozen=True)
class MoneyReport:
    start: date
    end: date
    lines: list[SettledLine]
    months: list[MonthMoney]
    owed: Owed
    statement_cents: int  # vouchers.redemption_statement's total for the institution and period
    statement_orders: int
    redemptions: list[RedemptionLine]

    @property
    def lab_cents(self) -> int:
        return sum(m.lab_cents for m in self.months)

    @property
    def voucher_cents(self) -> int:
        return sum(m.voucher_cents for m in self.months)

    @property
    def cash_cents(self) -> int:
        return sum(m.cash_cents for m in self.months)


def lab_money_report(session: Session, actor: User, start: date, end: date, tz: str) -> MoneyReport:
    """Everything the workbench's money page and its exports show, for the actor's institution."""
    require_role(actor, Role.lab_staff, Role.institution_admin)
    assert actor.institution_id is not None
    check_period(start, end)
    lines = settled_lines(session, actor.institution_id, start, end, tz)
    statement = vouchers.redemption_statement(session, actor, start, end, tz)  # the fund's figure, as the API gives it
    return MoneyReport(start, end, lines, per_month(lines, start, end, tz),
                       owed_to_institution(session, actor.institution_id),
                       round(sum(s.voucher_cny for s in statement) * 100), sum(s.orders for s in statement),
                       redemption_lines(session, actor.institution_id, start, end, tz))
