"""Lab staff correcting a past period of an instrument's state ("这段是在用"): the stored states are
rewritten there (source "staff") so machine-hours follow, the neighbours are cut, the current state
goes on; bad input is refused in Chinese with nothing written; another institution's staff see no
such instrument. And the learned sensor model as the instrument page explains it."""
from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from typing import Any, Iterator

import pytest
from flask import Flask
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.db import unit_of_work
from core.errors import Forbidden, InvalidInput, NotFound
from core.models import Instrument, InstrumentLevels, InstrumentStateInterval, Role, UsageCorrection, User
from core.models._types import utcnow
from core.services.usage.corrections import correct_period, corrections_of, sensor_model
from core.services.usage.hours import period_hours
from core.services.usage.states import as_utc
from tests.conftest import MINI_CATALOG, cli

HPLC = "T-CQ-FOOD-0001"
CHINESE = re.compile(r"[\u4e00-\u9fff]")


@pytest.fixture
def lab(app: Flask) -> dict[str, Any]:
    """HPLC two days ago: off, standby 8–10 h, off 10–20 h, then standby until now (the open interval);
    staff of its institution (T-CQ-FOOD), staff of another (T-HZ-ATC), a platform admin, a customer."""
    assert cli(app, "catalog", "import", "--approve", str(MINI_CATALOG)).exit_code == 0
    base = (utcnow() - timedelta(days=2)).replace(minute=0, second=0, microsecond=0)
    with unit_of_work(app.extensions["platform"].session_factory) as session:
        hplc = session.scalar(select(Instrument).where(Instrument.code == HPLC))
        other = session.scalar(select(Instrument).where(Instrument.code == "T-HZ-ATC-0001"))
        for state, start, end in (("off", 0, 8), ("standby", 8, 10), ("off", 10, 20), ("standby", 20, None)):
            session.add(InstrumentStateInterval(
                instrument_id=hplc.id, state=state, start_at=base + timedelta(hours=start), source="sensor",
                end_at=None if end is None else base + timedelta(hours=end)))
        people = {"cq": User(username="cq-lab", display_name="王工", role=Role.lab_staff,
                             institution_id=hplc.institution_id),
                  "hz": User(username="hz-lab", display_name="李工", role=Role.lab_staff,
                             institution_id=other.institution_id),
                  "admin": User(username="root", display_name="平台管理员", role=Role.platform_admin),
                  "buyer": User(display_name="某食品公司", role=Role.enterprise)}
        session.add_all(people.values())
        session.flush()
        ids = {key: user.id for key, user in people.items()}
    return {"base": base, "ids": ids, "hplc_id": hplc.id}


@pytest.fixture
def session(app: Flask) -> Iterator[Session]:
    with unit_of_work(app.extensions["platform"].session_factory) as db:
        yield db


def stored(session: Session, instrument_id: int, base: datetime) -> list[tuple[str, float, float | None, str]]:
    """(state, start h, end h or None, source) after `base`, in time order."""
    rows = session.execute(
        select(InstrumentStateInterval.state, InstrumentStateInterval.start_at, InstrumentStateInterval.end_at,
               InstrumentStateInterval.source)
        .where(InstrumentStateInterval.instrument_id == instrument_id).order_by(InstrumentStateInterval.start_at)
    ).all()
    hours = lambda d: None if d is None else (as_utc(d) - base).total_seconds() / 3600  # noqa: E731
    return [(state, hours(s), hours(e), source) for state, s, e, source in rows]  # type: ignore[misc]


def test_a_correction_rewrites_the_period_as_staff_and_cuts_its_neighbours(
        lab: dict[str, Any], session: Session) -> None:
    base, iid = lab["base"], lab["hplc_id"]
    staff = session.get(User, lab["ids"]["cq"])
    assert period_hours(session, iid, base, base + timedelta(hours=20), utcnow())[0] == 0

    correction = correct_period(session, staff, HPLC, base + timedelta(hours=9), base + timedelta(hours=12), "on",
                                "  做样品测试，钳表读数偏低  ")

    assert (correction.state, correction.reason, correction.created_by_name) == ("on", "做样品测试，钳表读数偏低", "王工")
    assert correction.created_by_id == staff.id
    assert stored(session, iid, base) == [
        ("off", 0, 8, "sensor"), ("standby", 8, 9, "sensor"), ("on", 9, 12, "staff"), ("off", 12, 20, "sensor"),
        ("standby", 20, None, "sensor")]
    # the machine-hours follow the correction
    assert period_hours(session, iid, base, base + timedelta(hours=20), utcnow())[0] == pytest.approx(3)


def test_a_correction_inside_the_current_state_leaves_it_going_on_after(lab: dict[str, Any], session: Session) -> None:
    base, iid = lab["base"], lab["hplc_id"]
    admin = session.get(User, lab["ids"]["admin"])  # a platform admin may correct any institution's instrument
    correct_period(session, admin, HPLC, base + timedelta(hours=21), base + timedelta(hours=22, minutes=30), "off",
                   "停电检修")
    assert stored(session, iid, base)[-3:] == [
        ("standby", 20, 21, "sensor"), ("off", 21, 22.5, "staff"), ("standby", 22.5, None, "sensor")]
    assert session.scalar(select(func.count()).select_from(InstrumentStateInterval).where(
        InstrumentStateInterval.instrument_id == iid, InstrumentStateInterval.end_at.is_(None))) == 1


def test_the_corrections_are_listed_newest_first(lab: dict[str, Any], session: Session) -> None:
    base = lab["base"]
    staff = session.get(User, lab["ids"]["cq"])
    correct_period(session, staff, HPLC, base + timedelta(hours=1), base + timedelta(hours=2), "standby", "预热")
    correct_period(session, staff, HPLC, base + timedelta(hours=9), base + timedelta(hours=12), "on", "这段是在用")
    listed = corrections_of(session, staff, HPLC)
    assert [c.reason for c in listed] == ["这段是在用", "预热"]
    assert [c.reason for c in corrections_of(session, staff, HPLC, limit=1)] == ["这段是在用"]


@pytest.mark.parametrize(("start_h", "end_h", "state", "reason", "code"), [
    (12, 9, "on", "这段是在用", "period_invalid"),
    (9, 9, "on", "这段是在用", "period_invalid"),
    (40, 60, "on", "这段是在用", "period_in_future"),
    (-24 * 32, 9, "on", "这段是在用", "period_too_long"),
    (-24 * 95, -24 * 94, "on", "这段是在用", "period_too_old"),
    (9, 12, "offline", "这段是在用", "state_invalid"),
    (9, 12, "on", "  好 ", "reason_invalid"),
    (9, 12, "on", "长" * 201, "reason_invalid"),
])
def test_bad_input_is_refused_in_chinese_and_nothing_is_written(
        lab: dict[str, Any], session: Session, start_h: float, end_h: float, state: str, reason: str,
        code: str) -> None:
    base, iid = lab["base"], lab["hplc_id"]
    before = stored(session, iid, base)
    with pytest.raises(InvalidInput) as refused:
        correct_period(session, session.get(User, lab["ids"]["cq"]), HPLC, base + timedelta(hours=start_h),
                       base + timedelta(hours=end_h), state, reason)
    assert refused.value.code == code and CHINESE.search(refused.value.message), refused.value.message
    assert stored(session, iid, base) == before
    assert session.scalar(select(func.count()).select_from(UsageCorrection)) == 0


def test_staff_of_another_institution_see_no_such_instrument(lab: dict[str, Any], session: Session) -> None:
    base, iid = lab["base"], lab["hplc_id"]
    before = stored(session, iid, base)
    start, end = base + timedelta(hours=9), base + timedelta(hours=12)
    with pytest.raises(NotFound) as refused:
        correct_period(session, session.get(User, lab["ids"]["hz"]), HPLC, start, end, "on", "这段是在用")
    assert refused.value.message == f"没有仪器 {HPLC}。"
    with pytest.raises(NotFound):
        corrections_of(session, session.get(User, lab["ids"]["hz"]), HPLC)
    with pytest.raises(Forbidden):  # a customer is no lab staff at all
        correct_period(session, session.get(User, lab["ids"]["buyer"]), HPLC, start, end, "on", "这段是在用")
    assert stored(session, iid, base) == before
    assert session.scalar(select(func.count()).select_from(UsageCorrection)) == 0


def test_the_sensor_model_is_explained_with_the_override_winning(lab: dict[str, Any], session: Session) -> None:
    staff = session.get(User, lab["ids"]["cq"])
    nothing = sensor_model(session, staff, HPLC)
    assert not nothing.learned and "默认阈值" in nothing.note_zh and nothing.off_below_a is None

    learned_at = datetime(2026, 3, 2, 1, 30, tzinfo=timezone.utc)
    row = InstrumentLevels(
        instrument_id=lab["hplc_id"], off_below_a=0.2, on_above_a=3.1, hysteresis=1.3, source="learned",
        note="levels off 0.05 A, standby 0.8 A, on 6.2 A; duty cycling: 9 trains, period ~240 s, duty ~35%",
        samples=1234, histogram=[], learned_at=learned_at, method="adaptive", bridge_s=270.0, clock_offset_s=-12.4,
        explain="duty cycling: 9 trains, period ~240 s, duty ~35%; clock: 12 s slow, corrected")
    session.add(row)
    session.flush()
    model = sensor_model(session, staff, HPLC)
    assert (model.learned, model.method_label, model.off_below_a, model.on_above_a) == (True, "自适应", 0.2, 3.1)
    assert model.note_zh == "识别出三档电流：关机 0.05 A、待机 0.8 A、运行 6.2 A"
    assert model.cycle is not None and (model.cycle.period_s, model.cycle.duty) == (240, 0.35)
    assert model.bridge_s == 270 and model.clock_zh == "网关时钟慢 12 秒，已自动校正"
    assert (model.samples, model.learned_at, model.overridden) == (1234, learned_at, False)

    row.override_off_below_a, row.override_on_above_a, row.override_by = 0.5, 5.0, "平台管理员"
    row.override_at = learned_at
    session.flush()
    overridden = sensor_model(session, staff, HPLC)
    assert (overridden.off_below_a, overridden.on_above_a, overridden.hysteresis) == (0.5, 5.0, 1.3)
    assert (overridden.learned_off_below_a, overridden.overridden, overridden.override_by) == (0.2, True, "平台管理员")
    with pytest.raises(NotFound):
        sensor_model(session, session.get(User, lab["ids"]["hz"]), HPLC)
