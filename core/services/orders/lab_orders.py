"""One institution's orders as its staff look them up: filtered and searched lists, and one order with its
timeline, report, rating and the next steps the lab may take. Reads only; the moves are in lifecycle."""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from core.models import (
    DeliveryMode, Instrument, Order, OrderEvent, OrderStatus, Rating, Report, Service, User,
)
from core.models._types import utcnow
from core.services.orders import lifecycle
from core.services.orders.order_rules import MOVES
from core.services.orders.slot_proposals import describe as describe_proposal
from core.services.orders.todo import report_due_day, samples_received_at, todo_condition
from core.services.people.authz import ROLE_LABELS
from core.services.paging import Paged

# the steps a lab takes on an order, in the order they come
LAB_STEPS = ("accept", "reject", "receive_samples", "no_show", "start_testing", "issue_report")


@dataclass(frozen=True)
class OrderFilters:
    status: OrderStatus | None = None
    instrument_id: int | None = None
    date_from: date | None = None  # local days of placing the order, both ends included
    date_to: date | None = None
    query: str = ""  # order number, company or contact name
    todo: str | None = None  # a key of todo.TODO_KINDS


@dataclass(frozen=True)
class OrderRow:
    number: str
    status: OrderStatus
    service_name: str
    instrument_name: str
    company_name: str
    contact_name: str
    samples: int
    mode: DeliveryMode
    slot_start: datetime | None
    delivery_date: date | None
    total_cents: int
    created_at: datetime


OrderPage = Paged[OrderRow]


def lab_instruments(session: Session, institution_id: int) -> list[tuple[int, str, str]]:
    """(id, code, name) of the institution's instruments, for the list's filter."""
    return [tuple(row) for row in session.execute(  # type: ignore[misc]
        select(Instrument.id, Instrument.code, Instrument.name)
        .where(Instrument.institution_id == institution_id).order_by(Instrument.code))]


def _like(text: str) -> str:
    return "%" + re.sub(r"([\\%_])", r"\\\1", text) + "%"


def search_lab_orders(session: Session, institution_id: int, filters: OrderFilters, timezone: str,
                      page: int = 1, per_page: int = 20, now: datetime | None = None) -> OrderPage:
    """The institution's orders matching every filter, newest first, one page of them."""
    zone = ZoneInfo(timezone)
    conditions = [Order.institution_id == institution_id]
    if filters.status is not None:
        conditions.append(Order.status == filters.status)
    if filters.instrument_id is not None:
        conditions.append(Order.instrument_id == filters.instrument_id)
    if filters.date_from is not None:
        conditions.append(Order.created_at >= datetime.combine(filters.date_from, time(0), tzinfo=zone))
    if filters.date_to is not None:
        day_after = filters.date_to + timedelta(days=1)
        conditions.append(Order.created_at < datetime.combine(day_after, time(0), tzinfo=zone))
    text = filters.query.strip()
    if text:
        pattern = _like(text)
        conditions.append(or_(Order.number.ilike(pattern, escape="\\"), Order.company_name.ilike(pattern, escape="\\"),
                              Order.contact_name.ilike(pattern, escape="\\")))
    if filters.todo:
        conditions.append(todo_condition(session, institution_id, filters.todo, timezone, now))
    total = int(session.scalar(select(func.count(Order.id)).where(*conditions)) or 0)
    page = max(1, page)
    rows = session.execute(
        select(Order, Service.name, Instrument.name).join(Service, Service.id == Order.service_id)
        .join(Instrument, Instrument.id == Order.instrument_id).where(*conditions)
        .order_by(Order.created_at.desc(), Order.id.desc()).offset((page - 1) * per_page).limit(per_page))
    return OrderPage([OrderRow(o.number, o.status, service, instrument, o.company_name, o.contact_name, o.samples,
                               o.mode, o.slot_start, o.delivery_date, o.total_cents, o.created_at)
                      for o, service, instrument in rows], total, page, per_page)


# reasons the code wrote in English before they were written in Chinese: old audit rows still read well
_OLD_REASONS = {
    "order placed": "用户下单", "payment received": "已收到付款", "report uploaded": "已上传检测报告",
    "report accepted": "用户确认报告", "confirmed by the user": "用户确认后结算",
    "confirmed automatically": "自动确认后结算", "released to the lab": "款项结算给实验室", "full refund": "全额退款",
    "cancelled by the user": "用户取消订单", "the user did not come": "用户未按预约到场",
    "payment retried": "重新发起付款", "group-buy closed before payment": "拼单截止时尚未付款",
}
_OLD_PATTERNS = (
    (re.compile(r"^no dispute within (\d+) days$"), r"\1 天内无异议，自动确认"),
    (re.compile(r"^partial refund ([\d.]+)$"), r"部分退款 \1 元"),
    (re.compile(r"^unpaid after (\d+) minutes$"), r"超过 \1 分钟未付款"),
    (re.compile(r"^batch run on (\S+)$"), r"拼单成团，\1 统一检测"),
    (re.compile(r"^only (\d+) of (\d+) samples$"), r"仅凑齐 \1 个样品（需 \2 个），拼单未成"),
)


def reason_text(reason: str | None) -> str | None:
    reason = describe_proposal(reason)  # a slot proposal's machine-readable tail is not for people
    if not reason:
        return None
    if reason in _OLD_REASONS:
        return _OLD_REASONS[reason]
    for pattern, replacement in _OLD_PATTERNS:
        if pattern.match(reason):
            return pattern.sub(replacement, reason)
    return reason


@dataclass(frozen=True)
class TimelineEntry:
    at: datetime
    who: str
    from_status: str | None  # Chinese status names
    to_status: str
    reason: str | None


@dataclass
class LabOrderView:
    order: Order
    service: Service
    instrument: Instrument
    timeline: list[TimelineEntry]
    report: Report | None
    rating: Rating | None
    received_at: datetime | None
    report_due: date | None
    steps: list[str] = field(default_factory=list)  # the LAB_STEPS the order's state allows now


def status_label(status: OrderStatus | str | None) -> str:
    if status is None:
        return "—"
    try:
        return lifecycle.STATUS_LABELS[OrderStatus(status)]
    except ValueError:
        return str(status)


def _who(event: OrderEvent, people: dict[int, User]) -> str:
    if event.actor_role == "system" or event.actor_id is None:
        return "系统"
    person = people.get(event.actor_id)
    role = ROLE_LABELS.get(person.role if person else event.actor_role, event.actor_role)  # type: ignore[call-overload]
    return f"{person.display_name}（{role}）" if person else role


def _steps(order: Order, now: datetime) -> list[str]:
    allowed = [s for s in LAB_STEPS if order.status in MOVES[s].sources]
    if "no_show" in allowed and (order.slot_end is None or order.slot_end > now):
        allowed.remove("no_show")  # only after the booked slot is over, and never for mailed samples
    return allowed


def lab_order(session: Session, actor: User, number: str, timezone: str, now: datetime | None = None) -> LabOrderView:
    """One order as its lab sees it; NotFound for an order of another institution, as for a missing one."""
    order = lifecycle.load_order(session, actor, number)
    events = list(session.scalars(select(OrderEvent).where(OrderEvent.order_id == order.id).order_by(OrderEvent.id)))
    ids = {e.actor_id for e in events if e.actor_id is not None}
    people = {u.id: u for u in session.scalars(select(User).where(User.id.in_(ids)))} if ids else {}
    timeline = [TimelineEntry(e.at, _who(e, people), status_label(e.from_status) if e.from_status else None,
                              status_label(e.to_status), reason_text(e.reason)) for e in events]
    received = samples_received_at()
    received_at = session.scalar(select(received.c.at).where(received.c.order_id == order.id))
    service = session.get(Service, order.service_id)
    due = report_due_day(received_at, service.turnaround_days, timezone) \
        if received_at is not None and service is not None and service.turnaround_days is not None else None
    return LabOrderView(
        order=order, service=service, instrument=session.get(Instrument, order.instrument_id),  # type: ignore[arg-type]
        timeline=timeline, report=session.scalar(select(Report).where(Report.order_id == order.id)),
        rating=session.scalar(select(Rating).where(Rating.order_id == order.id)), received_at=received_at,
        report_due=due, steps=_steps(order, now or utcnow()))


def order_numbers(session: Session, order_ids: set[int]) -> dict[int, str]:
    """order id -> number, for links from notifications."""
    if not order_ids:
        return {}
    rows = session.execute(select(Order.id, Order.number).where(Order.id.in_(order_ids)))
    return {order_id: number for order_id, number in rows}
