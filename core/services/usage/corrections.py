"""Lab staff correcting what the sensor said ("这段是在用"), and the learned sensor model explained
in words a lab can check against what it knows of its instrument.

A correction is kept as entered (who, why) and written over the stored state intervals with source
"staff", so machine-hours, the sharing rate and the no-show check read the corrected history."""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.errors import InvalidInput, NotFound
from core.models import Instrument, InstrumentLevels, Role, UsageCorrection, User
from core.models._types import utcnow
from core.services.people.authz import require_role
from core.services.usage.states import AmendedStretch, StateChange, amend_state_history, as_utc
from core.services.usage.frozen_months import note_history_change
from core.services.usage.timeline import viewable_instrument

CORRECTABLE_STATES = ("on", "standby", "off")
MAX_PERIOD = timedelta(days=31)
MAX_AGE = timedelta(days=90)  # older months have gone into reports; they are not rewritten from here
REASON_MIN, REASON_MAX = 2, 200
METHOD_LABELS = {"adaptive": "自适应", "baseline": "基线"}


def correctable_instrument(session: Session, actor: User | None, code: str) -> Instrument:
    """The instrument if `actor` may correct its states: staff of its institution or a platform admin.
    Another institution's instrument is the same 404 as none (as viewable_instrument does)."""
    user = require_role(actor, Role.platform_admin, Role.institution_admin, Role.lab_staff)
    instrument = session.scalar(select(Instrument).where(Instrument.code == code))
    if instrument is None or (user.role != Role.platform_admin and user.institution_id != instrument.institution_id):
        raise NotFound(f"没有仪器 {code}。", code="instrument_not_found")
    return instrument


def _check_period(start: datetime, end: datetime, now: datetime) -> None:
    if start.tzinfo is None or end.tzinfo is None:
        raise InvalidInput("时间须带时区。", code="period_invalid")
    if start >= end:
        raise InvalidInput("结束时间须晚于开始时间。", code="period_invalid")
    if end > now:
        raise InvalidInput("结束时间不能晚于现在：只能更正已经过去的时段。", code="period_in_future")
    if end - start > MAX_PERIOD:
        raise InvalidInput(f"一次最多更正 {MAX_PERIOD.days} 天，请分段更正。", code="period_too_long")
    if start < now - MAX_AGE:
        raise InvalidInput(f"只能更正最近 {MAX_AGE.days} 天内的状态。", code="period_too_old")


def correct_period(session: Session, actor: User | None, code: str, start: datetime, end: datetime, state: str,
                   reason: str, now: datetime | None = None, tz: str = "Asia/Shanghai") -> UsageCorrection:
    """Record that the instrument really was `state` over [start, end) and rewrite its stored states
    there (source "staff"); intervals crossing the ends are cut and the current one keeps going. A month
    a report has frozen gets a new version with this reason (`tz`: the platform's, where months begin)."""
    instrument = correctable_instrument(session, actor, code)
    now = now or utcnow()
    _check_period(start, end, now)
    if state not in CORRECTABLE_STATES:
        raise InvalidInput("状态只能是运行、待机或关机。", code="state_invalid", details={"state": state})
    reason = (reason or "").strip()
    if not REASON_MIN <= len(reason) <= REASON_MAX:
        raise InvalidInput(f"请用 {REASON_MIN}–{REASON_MAX} 个字说明更正的原因，如“做样品测试，钳表读数偏低”。",
                           code="reason_invalid")
    assert actor is not None  # require_role refused anyone else
    start, end = as_utc(start), as_utc(end)
    correction = UsageCorrection(instrument_id=instrument.id, start_at=start, end_at=end, state=state, reason=reason,
                                 created_by_id=actor.id, created_by_name=actor.display_name[:100])
    session.add(correction)
    amend_state_history(session, [AmendedStretch(instrument.id, start, end,
                                                 [StateChange(instrument.id, state, start)], source="staff")])
    note_history_change(session, instrument.id, start, end, f"人员更正（{actor.display_name}）：{reason}", tz, now)
    return correction


def corrections_of(session: Session, actor: User | None, code: str, limit: int = 20) -> list[UsageCorrection]:
    """The instrument's latest corrections, newest first."""
    instrument = viewable_instrument(session, actor, code)
    return list(session.scalars(
        select(UsageCorrection).where(UsageCorrection.instrument_id == instrument.id)
        .order_by(UsageCorrection.created_at.desc(), UsageCorrection.id.desc()).limit(max(1, min(limit, 200)))))


@dataclass(frozen=True)
class DutyCycle:
    """A load switching itself on and off (a thermostat heating, a pump), as the ingestion saw it."""
    trains: int  # runs of regular cycles seen
    period_s: float | None
    duty: float | None  # share of each period spent on, 0–1


@dataclass(frozen=True)
class SensorModel:
    code: str
    learned: bool  # False: nothing learned yet, the platform's default thresholds apply
    method: str  # adaptive | baseline
    method_label: str
    source: str  # default | provisional | learned
    off_below_a: float | None  # in force: an admin's override wins over what was learned
    on_above_a: float | None
    hysteresis: float | None
    learned_off_below_a: float | None
    learned_on_above_a: float | None
    learned_hysteresis: float | None
    note: str  # as learned (English, from the ingestion)
    note_zh: str
    bridge_s: float | None  # "on" survives gaps up to this long; None: not a cycling load
    cycle: DutyCycle | None
    clock_offset_s: float  # + the gateway runs fast, - slow
    clock_zh: str
    explain: str
    samples: int
    learned_at: datetime | None
    overridden: bool
    override_by: str | None
    override_at: datetime | None


# the ingestion's notes (iot/level_learning.py, duty_cycles.py, clock_offset.py) put into Chinese
_A = r"([\d.e+-]+) A"
_NOTES: Sequence[tuple[re.Pattern[str], str]] = (
    (re.compile(rf"levels off {_A}, standby {_A}, on {_A}"), "识别出三档电流：关机 {} A、待机 {} A、运行 {} A"),
    (re.compile(rf"levels standby {_A}, on {_A}; never seen off"), "识别出两档电流：待机 {} A、运行 {} A；尚未见到关机"),
    (re.compile(rf"one powered level seen \({_A}\)"), "只见到一档通电电流（{} A），出现更高一档之前视为待机"),
    (re.compile(rf"only seen off \({_A}\)"), "目前只见到关机电流（{} A）"),
    (re.compile(rf"only one level seen \({_A}\)"), "只见到一档电流（{} A），视为待机"),
    (re.compile(r"not enough history yet \(fewer than (\d+) steady readings\)"), "稳定读数还不够（少于 {} 个），暂用默认阈值"),
)
_CYCLE = re.compile(r"duty cycling: (\d+) trains?, period ~([\d.]+) s, duty ~(\d+)%")


def _note_zh(note: str) -> str:
    for pattern, words in _NOTES:
        found = pattern.search(note)
        if found:
            return words.format(*found.groups())
    return note  # a note this version does not know: shown as written rather than hidden


def _cycle(explain: str, note: str) -> DutyCycle | None:
    found = _CYCLE.search(explain) or _CYCLE.search(note)
    if found is None:
        return None
    trains, period, duty = found.groups()
    return DutyCycle(int(trains), float(period), int(duty) / 100)


def _clock_zh(offset_s: float, explain: str) -> str:
    if round(offset_s):
        return f"网关时钟{'快' if offset_s > 0 else '慢'} {abs(offset_s):.0f} 秒，已自动校正"
    if "cannot be trusted" in explain:
        return "网关时钟偏差不稳定，无法校正，其读数被拒收"
    if "not enough live readings" in explain:
        return "实时读数还不够，尚未估计网关时钟偏差"
    return "与平台时钟一致（相差 5 秒以内）"


def sensor_model(session: Session, actor: User | None, code: str) -> SensorModel:
    """What the platform has learned of the instrument's current sensor, for people to read."""
    instrument = viewable_instrument(session, actor, code)
    row = session.scalar(select(InstrumentLevels).where(InstrumentLevels.instrument_id == instrument.id))
    if row is None:
        return SensorModel(instrument.code, False, "adaptive", METHOD_LABELS["adaptive"], "default", None, None, None,
                           None, None, None, "", "尚未学习到该仪器的电流水平，目前使用平台默认阈值", None, None, 0.0,
                           "尚无读数", "", 0, None, False, None, None)
    overridden = row.overridden
    return SensorModel(
        code=instrument.code, learned=row.learned_at is not None, method=row.method,
        method_label=METHOD_LABELS.get(row.method, row.method), source=row.source,
        off_below_a=row.override_off_below_a if overridden else row.off_below_a,
        on_above_a=row.override_on_above_a if overridden else row.on_above_a,
        hysteresis=(row.override_hysteresis or row.hysteresis) if overridden else row.hysteresis,
        learned_off_below_a=row.off_below_a, learned_on_above_a=row.on_above_a, learned_hysteresis=row.hysteresis,
        note=row.note, note_zh=_note_zh(row.note), bridge_s=row.bridge_s or None, cycle=_cycle(row.explain, row.note),
        clock_offset_s=row.clock_offset_s, clock_zh=_clock_zh(row.clock_offset_s, row.explain), explain=row.explain,
        samples=row.samples, learned_at=row.learned_at, overridden=overridden,
        override_by=row.override_by if overridden else None, override_at=row.override_at if overridden else None)
