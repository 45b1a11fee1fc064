"""Staff propose a new slot for a booked visit; the customer accepts it (the booking moves) or declines it.

The orders table has no column for a pending proposal and this change comes without a migration, so
each step is an audit event that leaves the status as it is (from_status == to_status). Its reason is
a Chinese sentence for the order's timeline followed by MARKER and JSON for this module. The audit
trail already records who did what and when; the newest "proposed" event of an order, with any answer
naming it, is that order's proposal."""
from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.config import OrderRules
from core.errors import BusinessRuleViolation, Conflict, InvalidInput, NotFound
from core.models import DeliveryMode, Order, OrderEvent, OrderStatus, Role, SlotHold, User
from core.models._types import utcnow
from core.services.orders import slots
from core.services.orders.lifecycle import STATUS_LABELS, load_order
from core.services.people.authz import require_role
from core.services.people.notifications import notify, notify_lab, shown_time

MARKER = "slot_proposal:"
# a booking can still move before the visit: once samples are in, the slot has been used
MOVABLE = (OrderStatus.paid, OrderStatus.accepted)
STATE_LABELS = {"pending": "待客户确认", "accepted": "客户已接受", "declined": "客户已拒绝", "expired": "已失效"}


@dataclass(frozen=True)
class Proposal:
    id: int  # the id of the "proposed" event
    order_number: str
    state: str  # pending | accepted | declined | expired
    start: datetime
    end: datetime
    previous_start: datetime
    previous_end: datetime
    note: str | None
    proposed_at: datetime
    answered_at: datetime | None

    @property
    def state_label(self) -> str:
        return STATE_LABELS[self.state]


def _payload(event: OrderEvent) -> dict[str, Any] | None:
    at = (event.reason or "").find(MARKER)
    if at < 0:
        return None
    try:
        data = json.loads(event.reason[at + len(MARKER):])  # type: ignore[index]
    except ValueError:
        return None  # a hand-written reason that merely mentions the marker is not a proposal
    return data if isinstance(data, dict) else None


def describe(reason: str | None) -> str | None:
    """An audit reason as people read it: the sentence without the machine-readable tail."""
    if reason is None or MARKER not in reason:
        return reason
    return reason[:reason.find(MARKER)].strip() or None


def _clean(text: str | None) -> str | None:
    # free text goes into the sentence and the JSON: it must not contain the marker that splits them
    return (text or "").replace(MARKER, "").strip()[:500] or None


def _record(session: Session, order: Order, actor: User, now: datetime, sentence: str, **data: Any) -> OrderEvent:
    event = OrderEvent(order_id=order.id, actor_id=actor.id, actor_role=actor.role.value, at=now,
                       from_status=order.status.value, to_status=order.status.value,
                       reason=f"{sentence} {MARKER}{json.dumps(data, ensure_ascii=False, sort_keys=True)}")
    session.add(event)
    session.flush()
    return event


def latest(session: Session, order: Order, now: datetime | None = None) -> Proposal | None:
    """The order's newest proposal and where it stands (a newer proposal replaces an older one)."""
    now = now or utcnow()
    events = session.scalars(select(OrderEvent).where(OrderEvent.order_id == order.id,
                                                      OrderEvent.reason.contains(MARKER, autoescape=True))
                             .order_by(OrderEvent.id)).all()
    found: tuple[OrderEvent, dict[str, Any]] | None = None
    answer: tuple[str, datetime] | None = None
    for event in events:
        data = _payload(event)
        if data is None:
            continue
        if data.get("action") == "proposed":
            found, answer = (event, data), None
        elif found is not None and data.get("proposal") == found[0].id and data.get("action") in ("accepted", "declined"):
            answer = (data["action"], slots.as_utc(event.at))
    if found is None:
        return None
    event, data = found
    start = slots.as_utc(datetime.fromisoformat(data["start"]))
    if answer is not None:
        state = answer[0]
    elif order.status not in MOVABLE or start <= now:
        state = "expired"
    else:
        state = "pending"
    return Proposal(id=event.id, order_number=order.number, state=state, start=start,
                    end=slots.as_utc(datetime.fromisoformat(data["end"])),
                    previous_start=slots.as_utc(datetime.fromisoformat(data["from_start"])),
                    previous_end=slots.as_utc(datetime.fromisoformat(data["from_end"])),
                    note=data.get("note"), proposed_at=slots.as_utc(event.at),
                    answered_at=answer[1] if answer else None)


def _movable(order: Order) -> None:
    if order.mode != DeliveryMode.visit or order.slot_start is None or order.slot_end is None:
        raise BusinessRuleViolation(f"订单 {order.number} 不是预约到实验室检测的订单，没有可改的时段。",
                                    code="not_a_visit")
    if order.status not in MOVABLE:
        raise Conflict(f"订单 {order.number} 当前为“{STATUS_LABELS.get(order.status, order.status.value)}”状态，"
                       "不能再改约。", code="wrong_state", details={"status": order.status.value})


def _check_free(session: Session, order: Order, start: datetime, end: datetime, rules: OrderRules) -> None:
    """Cells held by other orders; the order's own cells are given back when the move is made."""
    taken = session.scalar(select(SlotHold.order_id).where(
        SlotHold.instrument_id == order.instrument_id, SlotHold.order_id != order.id,
        SlotHold.cell_start.in_(slots.cells(start, end, rules))).limit(1))
    if taken is not None:
        raise Conflict("该时段已被其他订单预约，请另选时间。", code="slot_taken")


def propose(session: Session, actor: User, number: str, start: datetime, rules: OrderRules,
            now: datetime | None = None, note: str | None = None) -> Proposal:
    """Offer the customer a new start for the booking (same length); replaces an unanswered proposal."""
    require_role(actor, Role.lab_staff, Role.institution_admin)
    now = now or utcnow()
    order = load_order(session, actor, number, lock=True)
    _movable(order)
    old_start, old_end = slots.as_utc(order.slot_start), slots.as_utc(order.slot_end)  # type: ignore[arg-type]
    start = slots.as_utc(start)
    end = start + (old_end - old_start)
    note = _clean(note)
    if start == old_start:
        raise InvalidInput("新时段与当前预约的时段相同，请另选时间。", code="same_slot")
    current = latest(session, order, now)
    if current is not None and current.state == "pending" and current.start == start:
        return current  # the same proposal sent twice (a double click) is sent once
    slots.check_bookable(session, order.instrument_id, start, end, rules, now)
    _check_free(session, order, start, end, rules)
    zone = rules.timezone
    new_slot = f"{shown_time(start, zone)}–{end.astimezone(ZoneInfo(zone)):%H:%M}"
    _record(session, order, actor, now, f"实验室提议改约：{shown_time(old_start, zone)} → {new_slot}"
            + (f"（{note}）" if note else ""), action="proposed", start=start.isoformat(), end=end.isoformat(),
            from_start=old_start.isoformat(), from_end=old_end.isoformat(), note=note)
    notify(session, order.user_id, "slot_proposal", "实验室提议调整预约时间",
           f"实验室提议将订单 {order.number}（{order.service.name}）的预约从 {shown_time(old_start, zone)} "
           f"改到 {new_slot}。" + (f"说明：{note}。" if note else "") + "请在小程序的订单中接受或拒绝。", order.id)
    proposal = latest(session, order, now)
    assert proposal is not None
    return proposal


def _answerable(session: Session, actor: User, number: str, now: datetime) -> tuple[Order, Proposal]:
    require_role(actor, Role.enterprise)
    order = load_order(session, actor, number, lock=True)  # only the customer's own order is found
    proposal = latest(session, order, now)
    if proposal is None:
        raise NotFound(f"订单 {number} 没有改约提议。", code="slot_proposal_not_found")
    return order, proposal


def accept(session: Session, actor: User, number: str, rules: OrderRules,
           now: datetime | None = None) -> tuple[Order, Proposal]:
    """The customer takes the new slot: the old cells are released and the new ones held, in one
    transaction (a clash rolls both back). Accepting again changes nothing."""
    now = now or utcnow()
    order, proposal = _answerable(session, actor, number, now)
    if proposal.state == "accepted":
        return order, proposal
    if proposal.state == "declined":
        raise Conflict("您已拒绝这次改约提议，如需改约请联系实验室。", code="slot_proposal_answered")
    if proposal.state == "expired":
        raise Conflict("这次改约提议已失效（时间已过或订单状态已变化），请联系实验室。", code="slot_proposal_expired")
    slots.check_bookable(session, order.instrument_id, proposal.start, proposal.end, rules, now)
    slots.release(session, order.id)
    order.slot_start, order.slot_end, order.updated_at = proposal.start, proposal.end, now
    slots.hold(session, order, rules)
    _record(session, order, actor, now, f"客户接受改约，预约改到 {shown_time(proposal.start, rules.timezone)}",
            action="accepted", proposal=proposal.id)
    notify_lab(session, order, "slot_proposal_accepted", "客户已接受改约",
               f"订单 {order.number}（{order.company_name}）已改约到 {shown_time(proposal.start, rules.timezone)}。")
    return order, latest(session, order, now)  # type: ignore[return-value]


def decline(session: Session, actor: User, number: str, rules: OrderRules, now: datetime | None = None,
            reason: str | None = None) -> tuple[Order, Proposal]:
    """The customer keeps the current slot; the lab is told. Declining again changes nothing."""
    now = now or utcnow()
    order, proposal = _answerable(session, actor, number, now)
    if proposal.state == "declined":
        return order, proposal
    if proposal.state == "accepted":
        raise Conflict("您已接受这次改约提议，预约已改到新时段。", code="slot_proposal_answered")
    if proposal.state == "expired":
        raise Conflict("这次改约提议已失效（时间已过或订单状态已变化）。", code="slot_proposal_expired")
    reason = _clean(reason)
    _record(session, order, actor, now, f"客户拒绝改约，仍按 {shown_time(proposal.previous_start, rules.timezone)}"
            + (f"（{reason}）" if reason else ""), action="declined", proposal=proposal.id, reason=reason)
    notify_lab(session, order, "slot_proposal_declined", "客户拒绝了改约",
               f"订单 {order.number}（{order.company_name}）不接受改到 {shown_time(proposal.start, rules.timezone)}，"
               f"仍按原预约 {shown_time(proposal.previous_start, rules.timezone)} 进行。"
               + (f"客户说明：{reason}" if reason else ""))
    return order, latest(session, order, now)  # type: ignore[return-value]


def proposals_on_instrument(session: Session, instrument_id: int, now: datetime | None = None) -> list[Proposal]:
    """The newest proposal of each upcoming booking on the instrument, for the lab's calendar."""
    now = now or utcnow()
    orders = session.scalars(select(Order).where(
        Order.instrument_id == instrument_id, Order.status.in_(MOVABLE), Order.slot_end > now)
        .order_by(Order.slot_start)).all()
    found = (latest(session, order, now) for order in orders)
    return [p for p in found if p is not None]
