"""Orders as weak labels of the sensor model: a slot whose order reached testing says the instrument
ran then. If the stored states show it on in most such slots the model agrees with the platform; if
they show standby instead, the instrument's "on" level has probably been taken for standby (two close
levels read as one) and the lab should look at its thresholds or correct the periods."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.models import Order, OrderStatus
from core.models._types import utcnow
from core.services.usage.hours import state_spans
from core.services.usage.states import as_utc

RAN = (OrderStatus.testing, OrderStatus.report_issued, OrderStatus.confirmed, OrderStatus.settled,
       OrderStatus.disputed)
WINDOW = timedelta(days=30)
MIN_SLOTS = 3  # fewer labels say nothing either way
AGREEMENT_WARNING = 0.6
SEEN_ON_SHARE = 0.25  # a slot counts as "seen running" when the sensor saw it on for a quarter of it


@dataclass(frozen=True)
class LabelCheck:
    slots: int  # slots of orders that ran, with sensor data for most of the slot
    seen_on: int  # … in which the sensor saw the instrument on
    standby_instead: int  # … in which it saw standby most of the time (the telling disagreement)

    @property
    def agreement(self) -> float | None:
        return self.seen_on / self.slots if self.slots >= MIN_SLOTS else None

    @property
    def doubtful(self) -> bool:
        agreement = self.agreement
        return agreement is not None and agreement < AGREEMENT_WARNING and self.standby_instead > 0


def order_evidence(session: Session, instrument_id: int, now: datetime | None = None) -> LabelCheck:
    """How the stored states of the last WINDOW agree with the slots of orders that ran."""
    now = now or utcnow()
    orders = list(session.scalars(
        select(Order).where(Order.instrument_id == instrument_id, Order.slot_start.is_not(None),
                            Order.slot_end > now - WINDOW, Order.slot_end <= now, Order.status.in_(RAN))))
    slots = seen_on = standby = 0
    if not orders:
        return LabelCheck(0, 0, 0)
    # the window's states in one query, clipped to each slot below
    spans = state_spans(session, instrument_id, min(as_utc(o.slot_start) for o in orders), now, now)  # type: ignore[arg-type]
    for order in orders:
        start, end = as_utc(order.slot_start), as_utc(order.slot_end)  # type: ignore[arg-type]
        length = (end - start).total_seconds()
        by_state: dict[str, float] = {}
        for state, s, e in spans:
            overlap = (min(e, end) - max(s, start)).total_seconds()
            if overlap > 0:
                by_state[state] = by_state.get(state, 0.0) + overlap
        if length <= 0 or by_state.get("offline", 0.0) + (length - sum(by_state.values())) > length / 2:
            continue  # the sensor missed most of the slot: no evidence
        slots += 1
        if by_state.get("on", 0.0) >= SEEN_ON_SHARE * length:
            seen_on += 1
        elif by_state.get("standby", 0.0) > length / 2:
            standby += 1
    return LabelCheck(slots, seen_on, standby)
