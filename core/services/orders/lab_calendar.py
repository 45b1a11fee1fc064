"""What the lab's calendar page reads: one institution's instrument, its bookings with their customers
and states, its blackouts, and the bookings staff may offer to move."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.errors import NotFound
from core.models import Blackout, DeliveryMode, Instrument, Order, Service
from core.services.orders.lifecycle import STATUS_LABELS
from core.services.orders.order_rules import FREES_SLOT
from core.services.orders.slot_proposals import MOVABLE
from core.services.orders.slots import as_utc


@dataclass(frozen=True)
class Booking:
    number: str
    status: str
    status_label: str
    customer: str
    service_name: str
    samples: int
    start: datetime  # aware UTC
    end: datetime


def lab_instrument(session: Session, institution_id: int | None, code: str) -> Instrument:
    """The instrument if it belongs to the institution; another lab's is as missing as an unknown one."""
    instrument = session.scalar(select(Instrument).where(Instrument.code == code))
    if instrument is None or institution_id is None or instrument.institution_id != institution_id:
        raise NotFound(f"您的实验室没有仪器 {code}。", code="instrument_not_found")
    return instrument


def bookings(session: Session, instrument_id: int, lo: datetime, hi: datetime) -> list[Booking]:
    """Orders whose slot overlaps [lo, hi) and still stands (the states that free a slot are left out)."""
    rows = session.execute(
        select(Order, Service.name).join(Service, Order.service_id == Service.id)
        .where(Order.instrument_id == instrument_id, Order.slot_start.is_not(None), Order.slot_start < hi,
               Order.slot_end > lo, Order.status.not_in(tuple(FREES_SLOT)))
        .order_by(Order.slot_start, Order.number)).all()
    return [Booking(number=o.number, status=o.status.value, status_label=STATUS_LABELS.get(o.status, o.status.value),
                    customer=f"{o.company_name}（{o.contact_name}）", service_name=name, samples=o.samples,
                    start=as_utc(o.slot_start), end=as_utc(o.slot_end))  # type: ignore[arg-type]
            for o, name in rows]


def blackouts(session: Session, instrument_id: int, lo: datetime, hi: datetime) -> list[Blackout]:
    return list(session.scalars(select(Blackout).where(
        Blackout.instrument_id == instrument_id, Blackout.starts_at < hi, Blackout.ends_at > lo)
        .order_by(Blackout.starts_at, Blackout.id)))


def same_blackout(session: Session, instrument_id: int, starts_at: datetime, ends_at: datetime) -> Blackout | None:
    """An identical period already blocked: a form sent twice must not block it twice."""
    return session.scalar(select(Blackout).where(
        Blackout.instrument_id == instrument_id, Blackout.starts_at == as_utc(starts_at),
        Blackout.ends_at == as_utc(ends_at)).limit(1))


def movable_bookings(session: Session, instrument_id: int, now: datetime) -> list[Order]:
    """Upcoming visits on the instrument whose slot staff may propose to move."""
    return list(session.scalars(select(Order).where(
        Order.instrument_id == instrument_id, Order.mode == DeliveryMode.visit, Order.status.in_(MOVABLE),
        Order.slot_start > now).order_by(Order.slot_start, Order.number)))
