"""The private ICS feed of an instrument: its bookings and blackouts, for the lab's calendar app.

The secret in the feed's address is the only credential (calendar apps cannot sign in), so it is
long and random, and rotating or revoking it cuts off every old subscription at once."""
from __future__ import annotations

import secrets
from datetime import datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

from icalendar import Calendar, Event, vDuration
from sqlalchemy import select
from sqlalchemy.orm import Session

from core.config import OrderRules
from core.errors import NotFound
from core.models import Blackout, Instrument, Order, OrderStatus, Service
from core.services.orders.lifecycle import STATUS_LABELS
from core.services.orders.order_rules import FREES_SLOT
from core.services.orders.slots import as_utc

PAST_DAYS, FUTURE_DAYS = 30, 90
SECRET_BYTES = 32  # token_urlsafe(32) is 43 characters; the column holds 64
UID_DOMAIN = "calendar.instrument-sharing"
REFRESH = timedelta(hours=1)
_UNPAID = (OrderStatus.created, OrderStatus.awaiting_payment)


def rotate_secret(session: Session, instrument: Instrument) -> str:
    """A new feed secret; the old address stops working."""
    instrument.calendar_feed_secret = secrets.token_urlsafe(SECRET_BYTES)
    session.flush()
    return instrument.calendar_feed_secret


def revoke_secret(session: Session, instrument: Instrument) -> None:
    instrument.calendar_feed_secret = None
    session.flush()


def instrument_for_secret(session: Session, secret: str) -> Instrument:
    instrument = None
    if 0 < len(secret) <= 64:
        instrument = session.scalar(select(Instrument).where(Instrument.calendar_feed_secret == secret))
    if instrument is None:
        raise NotFound("该日历订阅地址无效或已被撤销，请向实验室索取新的地址。", code="calendar_feed_not_found")
    return instrument


def feed(session: Session, instrument: Instrument, rules: OrderRules, now: datetime) -> bytes:
    """The ICS text: one VEVENT per booked order and per blackout, from 30 days ago to 90 days ahead."""
    zone = ZoneInfo(rules.timezone)
    today = now.astimezone(zone).date()
    lo = datetime.combine(today - timedelta(days=PAST_DAYS), time(0), zone).astimezone(timezone.utc)
    hi = datetime.combine(today + timedelta(days=FUTURE_DAYS + 1), time(0), zone).astimezone(timezone.utc)
    cal = Calendar.new(prodid="-//instrument-sharing//calendar feed//ZH", uid=f"instrument-{instrument.code}@{UID_DOMAIN}",
                       name=f"{instrument.name}（{instrument.code}）预约日历")
    # how often calendar apps should poll: RFC 7986's property, and the older one Outlook and Google read
    cal.add("REFRESH-INTERVAL", REFRESH, parameters={"VALUE": "DURATION"})
    cal.add("X-PUBLISHED-TTL", vDuration(REFRESH))
    orders = session.execute(
        select(Order, Service.name).join(Service, Order.service_id == Service.id)
        .where(Order.instrument_id == instrument.id, Order.slot_start.is_not(None), Order.slot_start < hi,
               Order.slot_end > lo, Order.status.not_in(tuple(FREES_SLOT)))
        .order_by(Order.slot_start, Order.number)).all()
    for order, service_name in orders:
        status = STATUS_LABELS.get(order.status, order.status.value)
        cal.add_component(Event.new(
            uid=f"order-{order.number}@{UID_DOMAIN}", stamp=now,
            start=as_utc(order.slot_start), end=as_utc(order.slot_end),  # type: ignore[arg-type]
            summary=f"{service_name}（{order.samples} 个样品）{order.number}",
            description=f"订单号：{order.number}\n检测服务：{service_name}\n样品数：{order.samples}\n状态：{status}",
            status="TENTATIVE" if order.status in _UNPAID else "CONFIRMED"))  # type: ignore[arg-type]
    blackouts = session.scalars(select(Blackout).where(
        Blackout.instrument_id == instrument.id, Blackout.starts_at < hi, Blackout.ends_at > lo)
        .order_by(Blackout.starts_at, Blackout.id))
    for blackout in blackouts:
        cal.add_component(Event.new(
            uid=f"blackout-{blackout.id}@{UID_DOMAIN}", stamp=now,
            start=as_utc(blackout.starts_at), end=as_utc(blackout.ends_at),
            summary=f"停机：{blackout.reason or '不可预约'}", description="该时段仪器不可预约。"))
    return cal.to_ical()
