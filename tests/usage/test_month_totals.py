"""The monthly figures of every instrument from one grouped query equal, to the second, what the
instrument's own month page shows (hours.instrument_month): for any history of states, sources and
offline reasons around the month's local edges, with the open interval running until now, and with
booked slots (a group-buy's overlapping slots count once)."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Iterator

import pytest
from flask import Flask
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, select

from core.db import unit_of_work
from core.models import Instrument, InstrumentStateInterval, Order
from core.services.usage.hours import STATES, instrument_month
from core.services.usage.month_totals import month_bounds, month_totals, months_totals
from tests.conftest import MINI_CATALOG, build_app, cli, stop_app
from tests.orders.conftest import build_market, next_weekday_at

TZ = "Asia/Shanghai"
MONTH = "2026-03"
LO, HI = month_bounds(MONTH, TZ)


@pytest.fixture(scope="module")
def catalog(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Flask]:
    app = build_app(tmp_path_factory.mktemp("month-totals"))
    assert cli(app, "catalog", "import", "--approve", str(MINI_CATALOG)).exit_code == 0
    yield app
    stop_app(app)


piece = st.tuples(st.sampled_from(STATES), st.integers(min_value=1, max_value=12 * 24 * 60),
                  st.sampled_from(["sensor", "late_data", "staff"]), st.sampled_from([None, "sensor_fault"]))


def test_the_month_starts_at_local_midnight() -> None:
    assert LO == datetime(2026, 2, 28, 16, tzinfo=timezone.utc) and HI == datetime(2026, 3, 31, 16, tzinfo=timezone.utc)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(start_before=st.integers(min_value=-3 * 24 * 60, max_value=3 * 24 * 60), pieces=st.lists(piece, max_size=25),
       open_last=st.booleans(), now_inside=st.booleans())
def test_one_query_for_all_equals_the_instruments_own_month(catalog: Flask, start_before: int,
                                                             pieces: list[tuple[str, int, str, str | None]],
                                                             open_last: bool, now_inside: bool) -> None:
    now = LO + timedelta(days=17, hours=5) if now_inside else HI + timedelta(days=45)
    with unit_of_work(catalog.extensions["platform"].session_factory) as session:
        instruments = list(session.scalars(select(Instrument).order_by(Instrument.id)))[:2]
        session.execute(delete(InstrumentStateInterval))
        moment = LO + timedelta(minutes=start_before)
        for n, (state, minutes, source, reason) in enumerate(pieces):
            last = n == len(pieces) - 1
            end = None if last and open_last else moment + timedelta(minutes=minutes)
            if end is None and moment > now:
                break  # an open interval starts before now
            session.add(InstrumentStateInterval(
                instrument_id=instruments[0].id, state=state, start_at=moment, end_at=end, source=source,
                reason=reason if state == "offline" else None))
            moment = end or moment
        session.flush()
        figures = month_totals(session, MONTH, TZ, now)
        own = instrument_month(session, instruments[0], 2026, 3, TZ, now)
        # three months in two passes give each month what one month alone gives
        together = months_totals(session, ["2026-02", MONTH, "2026-04"], TZ, now)
        alone = {m: month_totals(session, m, TZ, now) for m in ("2026-02", "2026-04")}
    for m, by_itself in alone.items():
        assert set(together.get(m, {})) == set(by_itself)
        for iid, figures_alone in by_itself.items():
            for state in (*STATES, "unknown"):
                assert together[m][iid].hours[state] == pytest.approx(figures_alone.hours[state], abs=1e-6)
            assert together[m][iid].audit == pytest.approx(figures_alone.audit, abs=1e-6)
    if MONTH in together:
        assert set(together[MONTH]) == set(figures)
    got = figures.get(instruments[0].id)
    if got is None:  # nothing of the history falls in the month
        assert own.totals["on"] + own.totals["standby"] + own.totals["off"] + own.totals["offline"] == 0
        return
    for state in (*STATES, "unknown"):
        assert got.hours[state] == pytest.approx(own.totals[state], abs=1e-3), state
    for key in got.audit:
        assert got.audit[key] == pytest.approx(sum(day.audit[key] for day in own.days), abs=1e-3), key
    assert got.sensor_fault_hours == pytest.approx(sum(day.sensor_fault_hours for day in own.days), abs=1e-3)
    assert instruments[1].id not in figures  # no history, no row


def test_on_time_inside_booked_slots_counts_once_like_the_month_page(tmp_path: Path) -> None:
    app = build_app(tmp_path)
    try:
        market = build_market(app)
        numbers = [market.paid_order(service_code="T-CQ-S001", mode="visit", samples=1, delivery_date=None,
                                     slot_start=next_weekday_at(hour).isoformat()) for hour in (10, 14)]
        day = LO + timedelta(days=10)
        now = HI + timedelta(days=3)
        with unit_of_work(app.extensions["platform"].session_factory) as session:
            orders = list(session.scalars(select(Order).where(Order.number.in_(numbers)).order_by(Order.id)))
            hplc = session.get(Instrument, orders[0].instrument_id)
            # two bookings, overlapping by an hour (a group-buy), and the HPLC on across both
            orders[0].slot_start, orders[0].slot_end = day + timedelta(hours=1), day + timedelta(hours=3)
            orders[1].slot_start, orders[1].slot_end = day + timedelta(hours=2), day + timedelta(hours=4)
            session.add_all([
                InstrumentStateInterval(instrument_id=hplc.id, state="on", start_at=day,
                                        end_at=day + timedelta(hours=3, minutes=30), source="sensor"),
                InstrumentStateInterval(instrument_id=hplc.id, state="standby", source="sensor",
                                        start_at=day + timedelta(hours=3, minutes=30))])
            session.flush()
            got = month_totals(session, MONTH, TZ, now)[hplc.id]
            own = instrument_month(session, hplc, 2026, 3, TZ, now)
        assert own.external_hours == pytest.approx(2.5)  # from 1 h until on ended at 3.5 h
        assert got.external_hours == pytest.approx(own.external_hours, abs=1e-6)
        assert got.hours["on"] == pytest.approx(3.5, abs=1e-6)
    finally:
        stop_app(app)
