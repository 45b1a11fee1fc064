"""A year of history for the demo (`flask data backfill-demo`), so that the management reports have
something to say on a fresh demo: who uses which instrument how much, through the platform's own parts.

This module plans: each instrument gets a usage profile (saturated, moderate, low, idle) and a sensor
(working, none, silent for weeks), deterministic from the seed, and a day-by-day schedule of powered
sessions and runs in PLATFORM_TIMEZONE. From the schedules, the sensor readings are read by the IoT
tracker outside core (iot/history_replay.py, handed in as a `SensorReplay`); the orders are planned on
them (demo_orders.py) and driven through the order services (demo_order_run.py); demo_backfill.py runs
the whole in the caller's one transaction, so a failed run leaves nothing behind.
"""
from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from typing import Callable, ContextManager, Protocol, Sequence
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.models import Institution, Instrument, OnboardingStatus, Role, Service, User
from core.services.data.monthly_hours import last_full_months
from core.services.usage.month_totals import month_bounds

DEMO_OPENID = "demo-history:"  # every person the backfill creates has a WeChat openid with this prefix
HOUR = 3600.0
MINUTE = 60.0
DAY = 86400.0
SATURATED_HOURS_YEAR = 1300.0  # what "saturated" promises: at least this much on-time a year
# the sensors were fitted this long before the history's first month: a new sensor reads its first hours
# with default levels until it has learned its own, and those hours fall before the reports' months
WARM_UP_DAYS = 7


class Progress(Protocol):
    def update(self, n: int) -> None: ...


# (label, total) -> a context manager whose update(n) advances a progress bar; the CLI's is click's
ProgressFactory = Callable[[str, int], ContextManager[Progress]]


@dataclass(frozen=True)
class Window:
    """The simulated months: the last `len(months)` full months in the platform's time zone."""
    months: tuple[str, ...]
    start: datetime  # UTC, the first month's first moment
    end: datetime  # UTC, the moment after the last month
    tz: str

    @property
    def start_s(self) -> float:
        return self.start.timestamp()

    @property
    def sensors_from_s(self) -> float:
        """When the sensors start reporting (WARM_UP_DAYS before the first month)."""
        return self.start_s - WARM_UP_DAYS * DAY

    @property
    def end_s(self) -> float:
        return self.end.timestamp()

    def periods(self) -> list[tuple[str, str]]:
        """The idle report's two-month periods (Jan–Feb, Mar–Apr, …) lying wholly inside the window."""
        months = list(self.months)
        return [(m, months[i + 1]) for i, m in enumerate(months[:-1]) if int(m[5:]) % 2 == 1]


def window_of(months: int, tz: str, now: datetime) -> Window:
    names = last_full_months(months, tz, now)
    return Window(tuple(names), month_bounds(names[0], tz)[0], month_bounds(names[-1], tz)[1], tz)


@dataclass
class Profile:
    """One instrument's simulated year: how it is used and what its sensor does."""
    instrument_id: int
    code: str
    name: str
    name_en: str
    institution_id: int
    institution_code: str
    institution_name: str
    city: str
    value_cny: float
    bookable: bool  # orders can be placed on it (shared, approved, with an active listing)
    usage: str = "moderate"  # saturated | moderate | low | idle
    sensor: str = "ok"  # ok | none | silent
    silent: tuple[float, float] | None = None  # epoch seconds the sensor says nothing
    sessions: list[tuple[float, float]] = field(default_factory=list)  # powered (standby), epoch s
    runs: list[tuple[float, float]] = field(default_factory=list)  # running (on), epoch s

    def paintings(self) -> list[tuple[float, float, str]]:
        """The truth as the sensor replay paints it: sessions first, runs over them."""
        return [(a, b, "standby") for a, b in self.sessions] + [(a, b, "on") for a, b in sorted(self.runs)]

    def on_hours(self, lo: float, hi: float) -> float:
        """True on-time in [lo, hi), overlapping runs counted once."""
        total, reach = 0.0, lo
        for a, b in sorted(self.runs):
            a, b = max(a, reach), min(b, hi)
            if b > a:
                total += b - a
                reach = b
        return total / HOUR


# What the IoT side does with the profiles: read each working sensor's readings through the tracker and
# store the state changes. Returns the intervals written.
SensorReplay = Callable[[Session, Sequence[Profile], Window, int, ProgressFactory], int]


def kind_of(name: str, name_en: str) -> str:
    """XRD, SEM or other: the kinds the duplicate-purchase story needs one busy and one idle of."""
    en = (name_en or "").upper()
    if "XRD" in en or "衍射" in name:
        return "XRD"
    if "SEM" in en or "扫描电" in name:
        return "SEM"
    return "other"


# --- which instrument gets which profile --------------------------------------------------------------

def instruments_to_simulate(session: Session, limit: int | None, seed: int) -> list[Profile]:
    """Every catalog instrument, or a seeded sample of `limit` of them (a slice for tests)."""
    active = {iid for (iid,) in session.execute(select(Service.instrument_id).where(Service.active.is_(True)))}
    rows = session.execute(
        select(Instrument, Institution).join(Institution, Institution.id == Instrument.institution_id)
        .order_by(Instrument.code)).all()
    profiles = [Profile(i.id, i.code, i.name, i.name_en or "", inst.id, inst.code, inst.name,
                        i.city or inst.city or "", float(i.value_cny or 0),
                        bool(i.open_for_sharing and inst.status == OnboardingStatus.approved and i.id in active))
                for i, inst in rows]
    if limit is not None and limit < len(profiles):
        profiles = sorted(random.Random(f"{seed}:slice").sample(profiles, limit), key=lambda p: p.code)
    return profiles


def assign_profiles(profiles: list[Profile], seed: int, window: Window) -> None:
    """About 10 % saturated, 20 % idle, 10 % without a sensor, one or two sensors silent for weeks, the rest
    moderately used; one XRD and one SEM saturated and one of each idle where the slice has them; and one
    institution (not the first, whose accounts the demo hands out) whose instruments are little used."""
    rng = random.Random(f"{seed}:profiles")
    n = len(profiles)
    if not n:
        return
    by_institution: dict[str, list[Profile]] = {}
    for p in profiles:
        by_institution.setdefault(p.institution_code, []).append(p)
    demo_accounts = min(profiles, key=lambda p: p.institution_id).institution_code  # `flask users demo-accounts`
    # a mid-sized institution tells the story best (a few instruments, the rest of the catalog unaffected)
    candidates = sorted((c for c in by_institution if c != demo_accounts or len(by_institution) == 1),
                        key=lambda c: (abs(len(by_institution[c]) - 4), c))
    if n >= 4:  # the institution whose 自报 will disagree with its sensors: low use, every sensor working
        for p in by_institution[candidates[0]]:
            p.usage = "low"
    free = [p for p in profiles if p.usage == "moderate"]
    rng.shuffle(free)

    def count(usage: str) -> int:
        return sum(p.usage == usage for p in profiles)

    def take(wanted: int, pick: Callable[[Profile], bool] = lambda p: True) -> list[Profile]:
        chosen = [p for p in free if pick(p)][:max(0, wanted)]
        for p in chosen:
            free.remove(p)
        return chosen

    for kind in ("XRD", "SEM"):  # a busy one and an idle one of each, for the purchase check's story
        if sum(kind_of(p.name, p.name_en) == kind for p in free) >= 2:
            for p in take(1, lambda p: kind_of(p.name, p.name_en) == kind and p.bookable):
                p.usage = "saturated"
            for p in take(1, lambda p: kind_of(p.name, p.name_en) == kind):
                p.usage = "idle"
    for p in take(max(1, round(0.10 * n)) - count("saturated"), lambda p: p.bookable):
        p.usage = "saturated"
    # idle instruments worth listing in the idle report first (it lists those of 30万 and above)
    for p in take(max(1, round(0.20 * n)) - count("idle"), lambda p: p.value_cny >= 300_000):
        p.usage = "idle"
    for p in take(max(1, round(0.20 * n)) - count("idle")):
        p.usage = "idle"
    for p in take(max(1, round(0.10 * n)) if n >= 3 else 0):
        p.sensor = "none"
    periods = window.periods()
    silent = 2 if n >= 40 else (1 if n >= 6 else 0)
    # listed in the idle report (30万 and above), where a silent sensor is flagged
    chosen = take(silent, lambda p: p.value_cny >= 300_000)
    for index, p in enumerate(chosen + take(silent - len(chosen))):
        p.sensor = "silent"
        if index == 0 and periods:  # over half of one report period: the idle report flags it
            lo = month_bounds(rng.choice(periods)[0], window.tz)[0].timestamp() + rng.uniform(3, 8) * DAY
            p.silent = (lo, min(lo + rng.uniform(36, 42) * DAY, window.end_s - DAY))
        else:
            span = window.end_s - window.start_s
            lo = window.start_s + rng.uniform(0.15, 0.5) * span
            p.silent = (lo, min(lo + rng.uniform(18, 26) * DAY, window.end_s - DAY))


# --- the schedule: powered sessions and runs, day by day ----------------------------------------------

@dataclass(frozen=True)
class _Style:
    work_p: float  # chance of a session on a working day
    rest_p: float  # … on a weekend or public holiday
    hours: float  # mean on-hours of a used day
    start: tuple[float, float]  # local hours a session begins between
    end: tuple[float, float]  # … and ends between
    run_min: tuple[float, float]  # minutes a run lasts
    gap_min: tuple[float, float]  # minutes between runs
    night_p: float  # chance a used day ends with an overnight batch


def _style(usage: str, rng: random.Random) -> _Style:
    if usage == "saturated":
        return _Style(0.97, 0.85, rng.uniform(5.0, 7.5), (7.5, 9.0), (20.0, 23.0), (60, 240), (10, 30), 0.12)
    if usage == "low":
        return _Style(rng.uniform(0.18, 0.28), 0.0, rng.uniform(2.0, 4.0), (8.5, 10.5), (15.5, 17.5), (40, 120),
                      (20, 60), 0.0)
    return _Style(rng.uniform(0.68, 0.86), 0.04, rng.uniform(3.6, 5.3), (8.0, 10.0), (16.5, 19.0), (30, 150),
                  (15, 60), 0.05)


# public holidays (fixed dates) and the Spring Festival weeks, when labs mostly stand still
_FIXED_HOLIDAYS = {(1, 1), (5, 1), (5, 2), (5, 3), (5, 4), (5, 5), *((10, d) for d in range(1, 8))}
_SPRING_FESTIVAL = {2024: (date(2024, 2, 10), 8), 2025: (date(2025, 1, 28), 8), 2026: (date(2026, 2, 15), 9),
                    2027: (date(2027, 2, 5), 9), 2028: (date(2028, 1, 25), 9)}


def is_holiday(day: date) -> bool:
    start, days = _SPRING_FESTIVAL.get(day.year, (date(day.year, 1, 1), 0))
    return (day.month, day.day) in _FIXED_HOLIDAYS or start <= day < start + timedelta(days=days)


def _days(window: Window) -> list[tuple[date, float]]:
    """(local date, epoch of its midnight) of every day in the window and the sensors' week before it."""
    zone = ZoneInfo(window.tz)
    first = window.start.astimezone(zone).date() - timedelta(days=WARM_UP_DAYS)
    last = (window.end - timedelta(seconds=1)).astimezone(zone).date()
    return [(first + timedelta(days=k), datetime.combine(first + timedelta(days=k), time(0), zone).timestamp())
            for k in range((last - first).days + 1)]


def build_schedule(profile: Profile, window: Window, seed: int) -> None:
    """Fill the profile's sessions and runs for the window (idle ones get a few hours a month or none)."""
    rng = random.Random(f"{seed}:{profile.code}:schedule")
    profile.sessions, profile.runs = [], []
    days = _days(window)
    if profile.usage == "idle":
        if rng.random() < 0.5:
            return  # never switched on: zero hours, flagged
        for month in window.months:
            workdays = [(d, m) for d, m in days if f"{d:%Y-%m}" == month and d.weekday() < 5 and not is_holiday(d)]
            for d, midnight in rng.sample(workdays, min(len(workdays), rng.choice((0, 1, 1, 2, 3)))):
                p0 = midnight + rng.uniform(9, 14) * HOUR
                p1 = p0 + rng.uniform(2, 5) * HOUR
                a = p0 + rng.uniform(10, 40) * MINUTE
                profile.sessions.append((p0, p1))
                profile.runs.append((a, min(p1 - 10 * MINUTE, a + rng.uniform(1, 3) * HOUR)))
        profile.sessions.sort()
        return
    style = _style(profile.usage, rng)
    busy_until = window.sensors_from_s
    for d, midnight in days:
        rest = d.weekday() >= 5 or is_holiday(d)
        chance = style.rest_p if rest else style.work_p
        if date(d.year, 7, 15) <= d <= date(d.year, 8, 25):
            chance *= 0.75  # the summer break
        if rng.random() >= chance:
            continue
        p0 = max(midnight + rng.uniform(*style.start) * HOUR, busy_until)
        p1 = midnight + rng.uniform(*style.end) * HOUR
        if p0 >= p1 - HOUR:
            continue
        target, on = style.hours * rng.uniform(0.6, 1.4) * HOUR, 0.0
        t = p0 + rng.uniform(10, 30) * MINUTE  # warm-up in standby
        while t < p1 - 30 * MINUTE and on < target:
            end = min(t + rng.uniform(*style.run_min) * MINUTE, p1)
            profile.runs.append((t, end))
            on += end - t
            t = end + rng.uniform(*style.gap_min) * MINUTE
        if rng.random() < style.night_p and p1 < midnight + DAY - HOUR:  # an overnight batch
            night_end = midnight + DAY + rng.uniform(5, 7.5) * HOUR
            profile.runs.append((p1, night_end))
            p1 = night_end + rng.uniform(10, 30) * MINUTE
        p1 = min(p1, window.end_s - MINUTE)
        profile.sessions.append((p0, p1))
        busy_until = p1 + 30 * MINUTE
    profile.runs = [(a, min(b, window.end_s - MINUTE)) for a, b in profile.runs if a < window.end_s - MINUTE]


def plan_history(session: Session, window: Window, seed: int, limit: int | None) -> list[Profile]:
    """The profiles and schedules of the instruments to simulate."""
    profiles = instruments_to_simulate(session, limit, seed)
    assign_profiles(profiles, seed, window)
    for profile in profiles:
        build_schedule(profile, window, seed)
    return profiles


# --- people the history needs -------------------------------------------------------------------------

def institution_admin(session: Session, institution_id: int, code: str, name: str) -> User:
    """The institution's admin who files its 自报 hours (the demo sign-in makes no admins)."""
    openid = f"{DEMO_OPENID}admin:{code}"
    user = session.scalar(select(User).where(User.wechat_openid == openid))
    if user is None:
        user = User(wechat_openid=openid, display_name=f"{name}管理员", role=Role.institution_admin,
                    institution_id=institution_id, active=True)
        session.add(user)
        session.flush()
    return user


def utc(seconds: float) -> datetime:
    """An epoch second of the schedules as a moment (the services take aware UTC)."""
    return datetime.fromtimestamp(seconds, tz=timezone.utc)
