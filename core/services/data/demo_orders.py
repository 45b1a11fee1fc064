"""The demo history's orders, planned on the simulated schedule (demo_history.py).

Each order gets an instrument (busy instruments get more), a listing, a visit slot inside the lab's
opening hours and inside a powered session of that day, or a mail-in testing run, and a fate: settled
(most), confirmed automatically, disputed, cancelled, rejected, or a visitor who did not come. The
visit or the testing run is painted onto the schedule as a run, so the sensors see the instrument on
while it was booked. demo_order_run.py then drives each plan through the order services.
"""
from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Sequence, TypeVar
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.config import OrderRules
from core.models import Service
from core.services.data.demo_history import DAY, HOUR, MINUTE, Profile, Window, is_holiday
from core.services.orders.slots import slot_length, weekly_hours

# expected orders per instrument-month, by how the instrument is used
ORDERS_PER_MONTH = {"saturated": 0.5, "moderate": 0.12, "low": 0.05, "idle": 0.0}
MIN_ORDERS = 12  # a small slice still shows each kind of order
# how orders end (an order's fate): settled after the user confirms, or automatically, or after a dispute;
# cancelled before or after the lab accepted; rejected by the lab; a visitor who never came
OUTCOMES: tuple[tuple[str, float], ...] = (
    ("settled", 0.77), ("auto", 0.10), ("dispute_release", 0.012), ("dispute_partial", 0.012),
    ("dispute_refund", 0.008), ("cancel_free", 0.03), ("cancel_late", 0.02), ("reject", 0.02), ("no_show", 0.028))
STARS: tuple[tuple[int, float], ...] = ((5, 0.52), (4, 0.30), (3, 0.10), (2, 0.05), (1, 0.03))
COMMENTS = {
    5: ("出报告很快，数据清楚", "老师很专业，解答耐心", "预约方便，按时上机", "检测规范，下次还来", None),
    4: ("整体满意，报告再详细些更好", "结果可靠，周期稍长", "服务不错", None),
    3: ("结果可以，沟通有点慢", "报告格式需要改进", None),
    2: ("等了很久才出报告", "现场排队时间长"),
    1: ("报告有错漏，来回改了两次", "与预约时间不符，体验较差"),
}
REPLIES = {5: "感谢认可，欢迎再来！", 4: "谢谢建议，我们会把报告写得更详细。", 3: "抱歉沟通不及时，已安排专人跟进。",
           2: "抱歉让您久等，我们已调整排班。", 1: "非常抱歉，已复核流程并改进，欢迎再次监督。"}
EDGE_DAYS = (10, 17)
T = TypeVar("T")  # an order's story starts this long after the window opens and ends this long before it closes


@dataclass
class OrderPlan:
    profile: Profile
    service_code: str
    sample_types: list[str]
    customer: int  # index into the demo customers
    mode: str  # visit | mail
    samples: int
    outcome: str  # see OUTCOMES
    start: float  # epoch s: the visit's slot, or the mail-in testing run
    end: float
    times: dict[str, float] = field(default_factory=dict)  # order status (and rated, replied) → epoch s
    stars: int | None = None
    comment: str | None = None
    reply: str | None = None


def _choose(rng: random.Random, weighted: Sequence[tuple[T, float]]) -> T:
    return rng.choices([v for v, _ in weighted], [w for _, w in weighted])[0]


def _day_of(moment: float, zone: ZoneInfo) -> date:
    return datetime.fromtimestamp(moment, zone).date()


def _at(day: date, hours: float, zone: ZoneInfo) -> float:
    return datetime.combine(day, time(0), zone).timestamp() + hours * HOUR


def _visit_slot(rng: random.Random, session_span: tuple[float, float], minutes: float,
                windows: dict[int, list[tuple[time, time]]], booked: list[tuple[float, float]],
                zone: ZoneInfo, cell_s: float) -> tuple[float, float] | None:
    """A free slot of `minutes` inside the lab's opening hours and the powered session, on cells."""
    p0, p1 = session_span
    day = _day_of(p0, zone)
    starts = []
    for opens, closes in windows.get(day.weekday(), []):
        lo = max(p0 + 10 * MINUTE, _at(day, opens.hour + opens.minute / 60, zone))
        hi = min(p1, _at(day, closes.hour + closes.minute / 60, zone)) - minutes * MINUTE
        t = math.ceil(lo / cell_s) * cell_s
        while t <= hi:
            if not any(a < t + minutes * MINUTE and t < b for a, b in booked):
                starts.append(t)
            t += cell_s
    if not starts:
        return None
    start = rng.choice(starts)
    return start, start + minutes * MINUTE


def plan_orders(session: Session, profiles: Sequence[Profile], window: Window, seed: int, rules: OrderRules,
                customer_cities: Sequence[str]) -> list[OrderPlan]:
    """The orders of the window, oldest first; visits and testing runs are added to the schedules."""
    rng = random.Random(f"{seed}:orders")
    zone = ZoneInfo(window.tz)
    listings: dict[int, list[Service]] = {}
    for service in session.scalars(select(Service).where(Service.active.is_(True)).order_by(Service.code)):
        listings.setdefault(service.instrument_id, []).append(service)
    bookable = [p for p in profiles if p.bookable and listings.get(p.instrument_id) and ORDERS_PER_MONTH[p.usage]]
    if not bookable:
        return []
    weights = [ORDERS_PER_MONTH[p.usage] for p in bookable]
    count = max(MIN_ORDERS, round(sum(weights) * len(window.months)))
    first, last = window.start_s + EDGE_DAYS[0] * DAY, window.end_s - EDGE_DAYS[1] * DAY
    booked: dict[int, list[tuple[float, float]]] = {}
    hours_of: dict[int, dict[int, list[tuple[time, time]]]] = {}
    plans: list[OrderPlan] = []
    for _ in range(count * 3):  # a draw whose instrument has no suitable day is drawn again
        if len(plans) >= count:
            break
        profile = rng.choices(bookable, weights)[0]
        days = [s for s in profile.sessions if first <= s[0] <= last and _day_of(s[0], zone).weekday() < 5
                and not is_holiday(_day_of(s[0], zone)) and s[1] - s[0] >= 2 * HOUR]
        if not days:
            continue
        service = rng.choice(listings[profile.instrument_id])
        minutes_each = service.duration_minutes or 60
        samples = 1 if minutes_each >= 240 else _choose(rng, ((1, 0.6), (2, 0.3), (3, 0.1)))
        outcome = _choose(rng, OUTCOMES)
        slot = None
        if rng.random() < 0.6:  # most customers come with their samples; the rest send them
            if profile.instrument_id not in hours_of:
                hours_of[profile.instrument_id] = weekly_hours(session, profile.instrument_id, rules)
            minutes = slot_length(service.duration_minutes, samples, rules).total_seconds() / MINUTE
            for span in rng.sample(days, min(6, len(days))):
                slot = _visit_slot(rng, span, minutes, hours_of[profile.instrument_id],
                                   booked.setdefault(profile.instrument_id, []), zone, rules.slot_minutes * MINUTE)
                if slot:
                    break
        if slot is not None:
            booked[profile.instrument_id].append(slot)
            plan = OrderPlan(profile, service.code, list(service.sample_types or []), 0, "visit", samples,
                             outcome, *slot)
        else:
            if outcome == "no_show":
                outcome = "settled"  # only a visit can be missed
            p0, p1 = rng.choice(days)
            start = p0 + rng.uniform(20, 90) * MINUTE
            end = min(start + max(30.0, minutes_each * samples) * MINUTE, p1 - 10 * MINUTE)
            if end - start < 20 * MINUTE:
                continue
            plan = OrderPlan(profile, service.code, list(service.sample_types or []), 0, "mail", samples, outcome,
                             start, end)
        local = [i for i, city in enumerate(customer_cities) if city == profile.city]  # most customers are local
        plan.customer = rng.choice(local if local and rng.random() < 0.7 else range(len(customer_cities)))
        _timeline(plan, rng, zone, service.turnaround_days or 5)
        if outcome not in ("cancel_free", "cancel_late", "reject", "no_show"):
            # the booked work ran on the instrument: a visit's run starts a little before the slot (the
            # lab gets it ready) and ends a little after, so ten-minute readings see it on throughout
            pad = (rng.uniform(5, 15) * MINUTE, rng.uniform(5, 20) * MINUTE) if slot is not None else (0.0, 0.0)
            profile.runs.append((plan.start - pad[0], plan.end + pad[1]))
        plans.append(plan)
    return sorted(plans, key=lambda p: p.times["created"])


def _timeline(plan: OrderPlan, rng: random.Random, zone: ZoneInfo, turnaround: int) -> None:
    """When each step happened: booked days before, paid at once, accepted within hours, tested on the
    planned run, reported within the listed turnaround, confirmed (or not) within a week, rated after."""
    t = plan.times
    anchor = plan.start
    t["created"] = _at(_day_of(anchor, zone) - timedelta(days=rng.randint(2, 9)), rng.uniform(8.5, 21.5), zone)
    t["awaiting_payment"] = t["created"] + rng.uniform(1, 8) * MINUTE
    t["paid"] = t["awaiting_payment"] + rng.uniform(0.5, 3) * MINUTE
    before = anchor - (2 * HOUR if plan.mode == "visit" else 27 * HOUR)
    t["accepted"] = min(t["paid"] + rng.uniform(0.3, 18) * HOUR,
                        t["paid"] + (before - t["paid"]) * rng.uniform(0.2, 0.8))
    if plan.outcome == "cancel_free":
        t["cancelled"] = t["paid"] + (t["accepted"] - t["paid"]) * rng.uniform(0.2, 0.9)
        return
    if plan.outcome == "reject":
        t["rejected"] = t["accepted"]
        return
    if plan.outcome == "cancel_late":
        t["cancelled"] = t["accepted"] + (anchor - t["accepted"]) * rng.uniform(0.3, 0.8)
        return
    if plan.outcome == "no_show":
        t["no_show"] = plan.end + rng.uniform(0.5, 4) * HOUR
        return
    t["samples_received"] = anchor if plan.mode == "visit" else anchor - rng.uniform(3, 20) * HOUR
    t["testing"] = anchor + 2 * MINUTE
    report_day = _day_of(plan.end, zone) + timedelta(days=rng.randint(0, max(1, min(turnaround, 5))))
    t["report_issued"] = max(_at(report_day, rng.uniform(9, 18), zone), plan.end + 30 * MINUTE)
    if plan.outcome.startswith("dispute"):
        t["disputed"] = t["report_issued"] + rng.uniform(0.3, 3) * DAY
        t["refunded" if plan.outcome == "dispute_refund" else "settled"] = t["disputed"] + rng.uniform(1, 4) * DAY
        plan.stars = rng.randint(1, 3) if plan.outcome != "dispute_refund" and rng.random() < 0.6 else None
    else:
        t["confirmed"] = t["report_issued"] + (7 * DAY + rng.uniform(1, 30) * MINUTE if plan.outcome == "auto"
                                               else rng.uniform(0.1, 5) * DAY)
        t["settled"] = t["confirmed"] + 1
        plan.stars = _choose(rng, STARS) if rng.random() < 0.7 else None
    if plan.stars is not None:
        t["rated"] = t["settled"] + rng.uniform(0.05, 3) * DAY
        plan.comment = rng.choice(COMMENTS[plan.stars])
        if plan.stars <= 3 or rng.random() < 0.25:
            plan.reply = REPLIES[plan.stars]
            t["replied"] = t["rated"] + rng.uniform(0.2, 2) * DAY
