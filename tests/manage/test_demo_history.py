"""`flask data backfill-demo` on a slice of the demo catalog (12 instruments, the last two or three full
months so that one two-month report period lies inside): what a person opening the demo would notice —
sensor states for instruments with a sensor and none for those without, a busy and an idle instrument
in the monthly figures, settled and rated orders whose visits the sensors saw, money that balances,
an institution whose 自报 hours its sensors contradict, the idle report of the period, a second run
that changes nothing, and a refusal outside demo mode or over real orders."""
from __future__ import annotations

from collections import defaultdict
from dataclasses import replace
from datetime import timedelta
from typing import ContextManager, Iterator

import pytest
from flask import Flask
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.db import unit_of_work
from iot.demo_history_cli import backfill_demo_command
from core.models import (DeliveryMode, EvaluationAssignment, EvaluationEntry, EvaluationRound, IdleReport, Instrument,
                         InstrumentMonth, InstrumentStateInterval, Order, OrderEvent, OrderStatus, PurchaseRequest,
                         Rating, Role, SelfReportedHours, Service, User)
from core.models._types import local_today, utcnow
from core.services.data.evaluation_indicators import measure
from core.services.data.evaluation_self_reports import gaps, self_report_of
from core.services.data.demo_history import SATURATED_HOURS_YEAR, Profile, plan_history, window_of
from core.services.orders.ledger import ledger_problems
from core.services.usage.states import as_utc
from tests.conftest import ROOT, CliResult, build_app, cli, stop_app

SLICE = 12
# two months when the current month is odd (the two before it are a report period), else three
MONTHS = 2 if local_today("Asia/Shanghai").month % 2 == 1 else 3


def backfill(app: Flask, *args: str) -> CliResult:
    result = app.test_cli_runner().invoke(backfill_demo_command, list(args))
    return CliResult(result.exit_code, result.stdout, result.stderr, result.exception)


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Flask, CliResult]]:
    # a slice of two or three months measures little of the year: a low pass mark lets some institutions
    # pass (and share the subsidy) without changing how the round is made
    app = build_app(tmp_path_factory.mktemp("demo-history"), EVALUATION_GRADE_PASS="30", EVALUATION_GRADE_GOOD="40",
                    EVALUATION_GRADE_EXCELLENT="50")
    assert cli(app, "catalog", "import", "--approve", str(ROOT / "data" / "demo_catalog.jsonl")).exit_code == 0
    result = backfill(app, "--instruments", str(SLICE), "--months", str(MONTHS))
    yield app, result
    stop_app(app)


def session_of(app: Flask) -> ContextManager[Session]:
    return unit_of_work(app.extensions["platform"].session_factory, write=False)


def planned(app: Flask) -> list[Profile]:
    """The slice's profiles as the run planned them (the plan is a pure function of catalog and seed)."""
    settings = app.extensions["platform"].settings
    with session_of(app) as session:
        return plan_history(session, window_of(MONTHS, settings.orders.timezone, utcnow()), 1, SLICE)


def test_the_run_says_what_it_made(demo: tuple[Flask, CliResult]) -> None:
    _, result = demo
    assert result.exit_code == 0, result.output
    assert "闲置仪器通报" in result.output and "账目平衡" in result.output
    assert "跳过" not in result.output  # no order the services refused


def test_sensors_tell_states_and_instruments_without_one_have_none(demo: tuple[Flask, CliResult]) -> None:
    app, _ = demo
    profiles = planned(app)
    window = window_of(MONTHS, app.extensions["platform"].settings.orders.timezone, utcnow())
    with session_of(app) as session:
        counts = dict(session.execute(select(InstrumentStateInterval.instrument_id, func.count())
                                      .group_by(InstrumentStateInterval.instrument_id)).all())
        sources = dict(session.execute(select(InstrumentMonth.instrument_id, InstrumentMonth.effective_source)
                                       .where(InstrumentMonth.month == window.months[0])).all())
        first = dict(session.execute(select(InstrumentStateInterval.instrument_id,
                                            func.min(InstrumentStateInterval.start_at))
                                     .group_by(InstrumentStateInterval.instrument_id)).all())
    with_sensor = [p for p in profiles if p.sensor != "none"]
    without = [p for p in profiles if p.sensor == "none"]
    assert with_sensor and without
    for p in with_sensor:
        assert counts.get(p.instrument_id, 0) >= 1, p.code
        assert as_utc(first[p.instrument_id]) < window.start  # from before the first month on
    for p in without:
        assert p.instrument_id not in counts, p.code
        assert sources[p.instrument_id] == "self_report"  # its hours are the institution's own


def test_a_busy_and_an_idle_instrument_in_the_monthly_figures(demo: tuple[Flask, CliResult]) -> None:
    app, _ = demo
    settings = app.extensions["platform"].settings
    window = window_of(MONTHS, settings.orders.timezone, utcnow())
    slice_ids = {p.instrument_id for p in planned(app)}
    with session_of(app) as session:
        rows = session.execute(select(InstrumentMonth.instrument_id, func.sum(InstrumentMonth.effective_hours),
                                      func.sum(InstrumentMonth.quota_hours))
                               .where(InstrumentMonth.month.in_(window.months))
                               .group_by(InstrumentMonth.instrument_id)).all()
    days = (window.end - window.start).days
    figures = {iid: (effective, quota) for iid, effective, quota in rows if iid in slice_ids}
    assert any(e >= SATURATED_HOURS_YEAR * days / 365 for e, _ in figures.values())
    assert any(e < settings.data.idle_below_quota_share * q for e, q in figures.values())


def test_orders_went_the_whole_way_and_the_money_balances(demo: tuple[Flask, CliResult]) -> None:
    app, _ = demo
    window = window_of(MONTHS, app.extensions["platform"].settings.orders.timezone, utcnow())
    with session_of(app) as session:
        orders = session.scalars(select(Order)).all()
        settled = [o for o in orders if o.status == OrderStatus.settled]
        assert len(settled) >= 5
        assert session.scalar(select(func.count(Rating.id))) >= 1
        assert ledger_problems(session) == []
        for order in orders:  # the whole story lies in the simulated months, and the number carries its day
            assert window.start <= as_utc(order.created_at) and as_utc(order.updated_at) < window.end
            assert order.number[1:9] == f"{as_utc(order.created_at):%Y%m%d}"
        events = session.scalars(select(OrderEvent.at)).all()
        assert all(window.start <= as_utc(at) < window.end for at in events)
        # a visit that was tested ran while the sensor watched: the instrument was on during its slot
        booked = on = 0.0
        for order in settled:
            if order.mode != DeliveryMode.visit:
                continue
            start, end = as_utc(order.slot_start), as_utc(order.slot_end)
            spans = session.execute(select(InstrumentStateInterval.start_at, InstrumentStateInterval.end_at).where(
                InstrumentStateInterval.instrument_id == order.instrument_id, InstrumentStateInterval.state == "on",
                InstrumentStateInterval.start_at < end, InstrumentStateInterval.end_at > start)).all()
            if not session.scalar(select(func.count(InstrumentStateInterval.id)).where(
                    InstrumentStateInterval.instrument_id == order.instrument_id)):
                continue  # no sensor on that instrument
            booked += (end - start).total_seconds()
            on += sum((min(as_utc(b), end) - max(as_utc(a), start)).total_seconds() for a, b in spans)
    assert booked > 0 and on / booked > 0.8


def test_one_institution_reports_far_more_hours_than_its_sensors_saw(demo: tuple[Flask, CliResult]) -> None:
    app, _ = demo
    window = window_of(MONTHS, app.extensions["platform"].settings.orders.timezone, utcnow())
    with session_of(app) as session:
        rows = session.execute(
            select(Instrument.institution_id, InstrumentMonth.on_hours, InstrumentMonth.self_reported_hours,
                   InstrumentMonth.offline_hours + InstrumentMonth.unknown_hours)
            .join(Instrument, Instrument.id == InstrumentMonth.instrument_id)
            .where(InstrumentMonth.month.in_(window.months), InstrumentMonth.self_reported_hours.is_not(None))).all()
        filed = session.scalar(select(func.count(SelfReportedHours.id)))
    assert filed and rows
    totals: dict[int, list[float]] = defaultdict(lambda: [0.0, 0.0])
    for institution, sensor, reported, unseen in rows:
        if unseen < 0.05 * 24 * 28:  # months the sensor saw whole: the two figures are comparable
            totals[institution][0] += sensor
            totals[institution][1] += reported
    disagreeing = [i for i, (sensor, reported) in totals.items() if abs(reported - sensor) > 0.2 * max(sensor, 1.0)]
    assert len(disagreeing) == 1


def test_the_idle_report_of_each_period_is_there(demo: tuple[Flask, CliResult]) -> None:
    app, _ = demo
    window = window_of(MONTHS, app.extensions["platform"].settings.orders.timezone, utcnow())
    with session_of(app) as session:
        reports = session.scalars(select(IdleReport).order_by(IdleReport.id)).all()
    assert [(r.period_from, r.period_to) for r in reports] == window.periods() != []
    assert all(r.generated_by == "定时任务" for r in reports)
    assert any(row["idle"] for row in reports[-1].body["instruments"])


def test_a_published_round_and_two_purchase_checks(demo: tuple[Flask, CliResult]) -> None:
    """The last step: a finished evaluation round whose subsidies add up to the budget, the disagreeing
    institution's self-report flagged, one purchase check concluded and one waiting for an expert."""
    app, result = demo
    settings = app.extensions["platform"].settings
    low = {p.institution_id for p in planned(app) if p.usage == "low"}
    assert "年度评价已发布" in result.output
    with session_of(app) as session:
        rounds = session.scalars(select(EvaluationRound)).all()
        assert [r.status for r in rounds] == ["published"]
        round_ = rounds[0]
        entries = session.scalars(select(EvaluationEntry).where(EvaluationEntry.round_id == round_.id)).all()
        assert len(entries) >= 5
        assert all(e.total is not None and e.grade and e.status == "published" for e in entries)
        assert sum(e.subsidy_fen or 0 for e in entries) == round_.budget_fen == 100_000_000
        assert len(low) == 1 and low <= {e.institution_id for e in entries}
        flagged = {}
        for entry in entries:
            report = self_report_of(session, round_.id, entry.institution_id)
            assert report is not None and report.attachments
            hours = gaps(report, measure(session, entry.institution_id, round_.year, settings.orders.timezone),
                         round_.rules["gap_threshold"])[0]
            flagged[entry.institution_id] = hours.flagged and (hours.gap is None or hours.gap > 0.2)
        assert {i for i, f in flagged.items() if f} == low
        # five experts signed; the one working at a participating institution was kept off it (回避)
        pairs = session.execute(select(EvaluationAssignment.expert_id, EvaluationAssignment.institution_id,
                                       EvaluationAssignment.signed_at)
                                .where(EvaluationAssignment.round_id == round_.id)).all()
        homes = dict(session.execute(select(User.id, User.institution_id).where(User.role == Role.expert)).all())
        assert len({x for x, _, _ in pairs}) == 5 and all(at is not None for *_, at in pairs)
        assert len(pairs) == 5 * len(entries) - 1 and all(homes[x] != i for x, i, _ in pairs)
        requests = session.scalars(select(PurchaseRequest).order_by(PurchaseRequest.id)).all()
    assert sorted(r.status for r in requests) == ["concluded", "submitted"]
    concluded = next(r for r in requests if r.status == "concluded")
    assert concluded.conclusion and concluded.conclusion_comment and concluded.price_fen >= 50_000_000
    assert all(len(r.quotations) == 3 for r in requests)


def test_a_second_run_changes_nothing(demo: tuple[Flask, CliResult]) -> None:
    app, _ = demo
    with session_of(app) as session:
        before = (session.scalar(select(func.count(Order.id))),
                  session.scalar(select(func.count(InstrumentStateInterval.id))))
    again = backfill(app, "--instruments", str(SLICE), "--months", str(MONTHS))
    assert again.exit_code == 0 and "已经回填过" in again.output
    with session_of(app) as session:
        after = (session.scalar(select(func.count(Order.id))),
                 session.scalar(select(func.count(InstrumentStateInterval.id))))
    assert after == before


def test_force_rebuilds_the_same_history(demo: tuple[Flask, CliResult]) -> None:
    app, _ = demo

    def figures() -> tuple[object, ...]:
        with session_of(app) as session:
            return (session.scalar(select(func.count(Order.id))),
                    session.scalar(select(func.count(InstrumentStateInterval.id))),
                    session.scalar(select(func.count(IdleReport.id))),
                    session.scalar(select(func.sum(InstrumentMonth.effective_hours))),
                    sorted(session.scalars(select(Order.total_cents))),
                    session.scalar(select(func.count(EvaluationRound.id))),  # the round made again, not a second
                    sorted(session.scalars(select(PurchaseRequest.status))))

    before = figures()
    again = backfill(app, "--force", "--instruments", str(SLICE), "--months", str(MONTHS))
    assert again.exit_code == 0, again.output
    assert figures() == before  # the seed decides everything: the same history again, not a second one
    with session_of(app) as session:
        assert ledger_problems(session) == []


def test_refused_outside_demo_mode(demo: tuple[Flask, CliResult]) -> None:
    app, _ = demo
    platform = app.extensions["platform"]
    settings = platform.settings
    platform.settings = replace(settings, demo_mode=False)
    try:
        result = backfill(app, "--force", "--instruments", "3", "--months", "1")
    finally:
        platform.settings = settings
    assert result.exit_code == 1 and "演示模式" in result.output
    with session_of(app) as session:
        assert session.scalar(select(func.count(IdleReport.id))) >= 1  # nothing was removed


def test_force_never_rebuilds_over_real_orders(demo: tuple[Flask, CliResult]) -> None:
    """Run last: it adds an order of a real customer."""
    from core.services.orders.lifecycle import NewOrder, create_order
    from core.services.people.auth import demo_user
    from core.services.people.company import update_company

    app, _ = demo
    platform = app.extensions["platform"]
    with platform.transaction() as session:
        customer = demo_user(session, "a-real-customer", "王经理", "enterprise", None)
        update_company(session, customer, "重庆真实客户有限公司", "91500000MA5U7G2X39", "王经理", "13800000000")
        code = session.scalar(select(Service.code).join(Order, Order.service_id == Service.id).limit(1))
        create_order(session, customer, NewOrder(code, 1, "样品一份", DeliveryMode.mail,
                                                 delivery_date=local_today(platform.settings.orders.timezone)
                                                 + timedelta(days=3)), platform.settings)
    result = backfill(app, "--force", "--instruments", str(SLICE), "--months", str(MONTHS))
    assert result.exit_code == 1 and "不是演示历史生成的订单" in result.output
