"""Order figures for the console: per month in the platform's time zone, the services and institutions
that did the most business, and where the voucher money stands."""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.models import Institution, Order, OrderStatus, Service, VoucherApplication, VoucherStatus

# orders that never became business: not counted as turnover
_NOT_BUSINESS = (OrderStatus.created, OrderStatus.awaiting_payment, OrderStatus.cancelled, OrderStatus.expired)


@dataclass(frozen=True)
class MonthFigures:
    month: str  # YYYY-MM, local
    orders: int
    turnover_cents: int


@dataclass(frozen=True)
class Ranked:
    code: str
    name: str
    orders: int
    turnover_cents: int


@dataclass(frozen=True)
class VoucherTotals:
    approved_cents: int  # granted on approved applications
    reserved_cents: int  # held by paid orders not yet settled
    consumed_cents: int  # paid out to labs
    pending_cents: int  # asked for, awaiting a decision

    @property
    def available_cents(self) -> int:
        return self.approved_cents - self.reserved_cents - self.consumed_cents


def orders_per_month(session: Session, timezone: str) -> list[MonthFigures]:
    """Orders placed and their value per local month (months bucketed in Python: SQLite and PostgreSQL
    disagree on date functions, and a platform's order count fits in memory by month)."""
    zone = ZoneInfo(timezone)
    counts: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    rows = session.execute(select(Order.created_at, Order.total_cents).where(Order.status.not_in(_NOT_BUSINESS)))
    for created_at, total in rows:
        month = created_at.astimezone(zone).strftime("%Y-%m")
        counts[month][0] += 1
        counts[month][1] += total
    return [MonthFigures(m, c[0], c[1]) for m, c in sorted(counts.items())]


def _ranked(session: Session, entity: type[Service] | type[Institution], foreign_key: Any, since: datetime,
            limit: int) -> list[Ranked]:
    turnover = func.coalesce(func.sum(Order.total_cents), 0)
    rows = session.execute(
        select(entity.code, entity.name, func.count(Order.id), turnover)
        .select_from(Order).join(entity, entity.id == foreign_key)
        .where(Order.status.not_in(_NOT_BUSINESS), Order.created_at >= since)
        .group_by(entity.id, entity.code, entity.name)
        .order_by(turnover.desc(), func.count(Order.id).desc(), entity.code)
        .limit(limit))
    return [Ranked(code, name, int(orders), int(cents)) for code, name, orders, cents in rows]


def top_services(session: Session, since: datetime, limit: int = 10) -> list[Ranked]:
    """The services with the most turnover (then the most orders) among orders placed since `since`."""
    return _ranked(session, Service, Order.service_id, since, limit)


def top_institutions(session: Session, since: datetime, limit: int = 10) -> list[Ranked]:
    """The institutions with the most turnover (then the most orders) among orders placed since `since`."""
    return _ranked(session, Institution, Order.institution_id, since, limit)


def voucher_totals(session: Session) -> VoucherTotals:
    """Voucher money now: granted, held by open orders, paid to labs, and asked for but undecided."""
    approved, reserved, consumed = session.execute(
        select(func.coalesce(func.sum(VoucherApplication.approved_cents), 0),
               func.coalesce(func.sum(VoucherApplication.reserved_cents), 0),
               func.coalesce(func.sum(VoucherApplication.consumed_cents), 0))
        .where(VoucherApplication.status == VoucherStatus.approved)).one()
    pending = session.scalar(select(func.coalesce(func.sum(VoucherApplication.requested_cents), 0))
                             .where(VoucherApplication.status == VoucherStatus.pending))
    return VoucherTotals(int(approved), int(reserved), int(consumed), int(pending or 0))
