"""The daily look at what the labs must not miss: samples due tomorrow and reports overdue.

Each order is notified once per staff member and kind; what was sent is the
Notification row itself (no bookkeeping columns), so running the check again, or
every hour, adds nothing. Days are the platform's days (PLATFORM_TIMEZONE).
"""
from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session
from sqlalchemy.sql.selectable import Subquery

from core.config import Settings
from core.models import Notification, Order, OrderEvent, OrderStatus, Service
from core.models._types import utcnow
from core.services.people.notifications import lab_people, notify, shown_time

SAMPLES_DUE, REPORT_OVERDUE = "samples_due", "report_overdue"
# samples are expected once the order is paid or accepted, and no longer once received
AWAITING_SAMPLES = (OrderStatus.paid, OrderStatus.accepted)
AWAITING_REPORT = (OrderStatus.samples_received, OrderStatus.testing)


def _received_at() -> Subquery:
    return (select(OrderEvent.order_id, func.max(OrderEvent.at).label("at"))
            .where(OrderEvent.to_status == OrderStatus.samples_received.value)
            .group_by(OrderEvent.order_id).subquery())


def _due(received: datetime, turnaround_days: int, zone: ZoneInfo) -> date:
    return received.astimezone(zone).date() + timedelta(days=turnaround_days)


def report_due_date(session: Session, order: Order, timezone: str) -> date | None:
    """The day the report is promised by: the day samples were received plus the service's turnaround
    (calendar days). None when the service promises none or the samples are not in."""
    received = _received_at()
    row = session.execute(select(received.c.at, Service.turnaround_days)
                          .join(Service, Service.id == order.service_id)
                          .where(received.c.order_id == order.id)).first()
    if row is None or row[0] is None or row[1] is None:
        return None
    return _due(row[0], row[1], ZoneInfo(timezone))


def samples_due_on(session: Session, day: date, zone: ZoneInfo) -> list[Order]:
    """Orders whose samples arrive on local `day`: mailed for that day, or a visit booked on it."""
    start = datetime.combine(day, time(0), tzinfo=zone)
    end = start + timedelta(days=1)
    return list(session.scalars(select(Order).where(
        Order.status.in_(AWAITING_SAMPLES),
        or_(Order.delivery_date == day, and_(Order.slot_start >= start, Order.slot_start < end)))
        .order_by(Order.id)))


def reports_overdue(session: Session, today: date, zone: ZoneInfo) -> list[tuple[Order, date, date]]:
    """(order, day received, day due) of reports not issued by their due day."""
    received = _received_at()
    rows = session.execute(
        select(Order, received.c.at, Service.turnaround_days)
        .join(Service, Service.id == Order.service_id).join(received, received.c.order_id == Order.id)
        .where(Order.status.in_(AWAITING_REPORT), Service.turnaround_days.is_not(None)).order_by(Order.id))
    out = []
    for order, at, days in rows:
        due = _due(at, days, zone)
        if due < today:
            out.append((order, at.astimezone(zone).date(), due))
    return out


def _notify_once(session: Session, order: Order, kind: str, title: str, body: str) -> int:
    """Notify the lab's people who have not had this kind for this order; how many were."""
    done = set(session.scalars(select(Notification.user_id).where(
        Notification.order_id == order.id, Notification.kind == kind)))
    sent = 0
    for person in lab_people(session, order.institution_id):
        if person.id not in done:
            notify(session, person.id, kind, title, body, order.id)
            sent += 1
    return sent


def _samples_text(order: Order, day: date, timezone: str) -> str:
    what = f"订单 {order.number}（{order.service.name}，{order.samples} 个样品，{order.company_name}）"
    if order.slot_start is not None:
        text = f"{what}：客户预约明天 {shown_time(order.slot_start, timezone)} 到实验室检测，请做好准备。"
    else:
        text = f"{what}的样品预计明天（{day}）送达，请安排收样。"
    if order.status == OrderStatus.paid:
        text += "该订单尚未接单，请尽快接单或拒单。"
    return text


def alert_deadlines(session: Session, settings: Settings, now: datetime | None = None) -> dict[str, int]:
    """Notify lab staff of tomorrow's samples and of overdue reports, each order once.
    Nothing before STAFF_ALERT_HOUR local time: nobody wants these at midnight."""
    zone = ZoneInfo(settings.orders.timezone)
    local = (now or utcnow()).astimezone(zone)
    counts = {SAMPLES_DUE: 0, REPORT_OVERDUE: 0}
    if local.hour < settings.staff_alert_hour:
        return counts
    tomorrow = local.date() + timedelta(days=1)
    for order in samples_due_on(session, tomorrow, zone):
        counts[SAMPLES_DUE] += _notify_once(session, order, SAMPLES_DUE, "明天到样提醒",
                                            _samples_text(order, tomorrow, settings.orders.timezone))
    for order, received, due in reports_overdue(session, local.date(), zone):
        late = (local.date() - due).days
        counts[REPORT_OVERDUE] += _notify_once(
            session, order, REPORT_OVERDUE, "检测报告已逾期",
            f"订单 {order.number}（{order.service.name}，{order.company_name}）于 {received} 收样，"
            f"承诺 {order.service.turnaround_days} 天出报告，最迟应于 {due} 出具，已逾期 {late} 天。"
            "请尽快上传报告或与客户沟通。")
    return counts
