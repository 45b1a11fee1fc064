"""Machine-hours per day and month, and what the orders make of them: external
service hours, internal use, the sharing rate and possible no-shows."""
from __future__ import annotations

from datetime import datetime, timezone
from zoneinfo import ZoneInfo

import pytest
from flask import Flask
from sqlalchemy import func, select

from core.db import unit_of_work
from core.models import DeliveryMode, Instrument, Order, OrderStatus, OrderUsage, Role, Service, User
from core.services.people.auth import issue_token
from core.services.usage.states import StateChange, record_state_changes
from core.services.people.users import create_admin, create_staff
from tests.conftest import MINI_CATALOG, cli, stop_app

HPLC = "T-CQ-FOOD-0001"
ZONE = ZoneInfo("Asia/Shanghai")


def local(day: int, hour: float) -> datetime:
    h, m = int(hour), int(round((hour % 1) * 60))
    return datetime(2025, 3, day, h, m, tzinfo=ZONE).astimezone(timezone.utc)


def hplc_service_customer(session):  # type: ignore[no-untyped-def]
    """The HPLC, its service and an enterprise customer to book it."""
    hplc = session.scalar(select(Instrument).where(Instrument.code == HPLC))
    service = session.scalar(select(Service).where(Service.instrument_id == hplc.id))
    customer = User(display_name="某公司", role=Role.enterprise)
    session.add(customer)
    session.flush()
    return hplc, service, customer


@pytest.fixture(scope="module")
def usage_app(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    from tests.conftest import build_app

    app = build_app(tmp_path_factory.mktemp("usage"))
    assert cli(app, "catalog", "import", "--approve", str(MINI_CATALOG)).exit_code == 0
    with unit_of_work(app.extensions["platform"].session_factory) as session:
        hplc, service, customer = hplc_service_customer(session)
        # Monday 3 March: standby 8-9, on 9-11, standby 11-12, off 12-14, on 14-15 (internal), off after
        # Tuesday: off all day, sensor reporting; Thursday 6th: the sensor is offline 9-12
        timeline = [(3, 8, "standby"), (3, 9, "on"), (3, 11, "standby"), (3, 12, "off"), (3, 14, "on"),
                    (3, 15, "off"), (6, 9, "offline"), (6, 12, "off")]
        record_state_changes(session, [StateChange(hplc.id, state, local(d, h)) for d, h, state in timeline])

        def order(number: str, status: OrderStatus, day: int, start: float, end: float) -> None:
            session.add(Order(
                number=number, user_id=customer.id, service_id=service.id, instrument_id=hplc.id,
                institution_id=hplc.institution_id, samples=1, sample_description="辣椒粉", company_name="某公司",
                contact_name="张三", contact_phone="13800000000", mode=DeliveryMode.visit,
                slot_start=local(day, start), slot_end=local(day, end), unit_price_cents=30000, total_cents=30000,
                status=status,
            ))

        order("A-RUN", OrderStatus.testing, 3, 9.5, 10.5)  # the customer's run: 1 h of external service
        order("B-NOSHOW", OrderStatus.confirmed, 4, 10, 11)  # accepted, the sensor saw the instrument off
        order("C-PAID", OrderStatus.paid, 5, 10, 11)  # paid but never accepted: no flag
        order("D-CANCELLED", OrderStatus.cancelled, 3, 14, 15)  # not booked: that run is internal use
        order("E-BLIND", OrderStatus.accepted, 6, 10, 11)  # the sensor was offline: no evidence either way
        create_admin(session, "admin", "password-1")
        create_staff(session, "cq-lab", "password-1", "T-CQ-FOOD")
        create_staff(session, "hz-lab", "password-1", "T-HZ-ATC")
    yield app
    stop_app(app)


def test_hours_per_state_per_day_and_month(usage_app: Flask) -> None:
    result = cli(usage_app, "iot", "usage", "--instrument", HPLC, "--month", "2025-03")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    monday = next(line for line in lines if line.startswith("2025-03-03"))
    # on, standby, off, offline, unknown (no data before 8:00), external
    assert monday.split()[1:7] == ["3.00", "2.00", "11.00", "0.00", "8.00", "1.00"]
    # the audit: every hour either measured live, amended by late data, corrected by staff, or unknown
    assert monday.split()[7:] == ["|", "16.00", "0.00", "0.00", "8.00", "0.00"]
    thursday = next(line for line in lines if line.startswith("2025-03-06"))
    assert thursday.split()[1:5] == ["0.00", "0.00", "21.00", "3.00"]
    total = next(line for line in lines if line.startswith("total"))
    assert total.split()[1] == "3.00"
    assert "external service 1.00 h + internal use 2.00 h; sharing rate 33.3%" in result.stdout


def test_a_booked_slot_without_on_time_is_a_possible_no_show(usage_app: Flask) -> None:
    result = cli(usage_app, "iot", "usage", "--instrument", HPLC, "--month", "2025-03")
    flagged = [line.split()[0] for line in result.stdout.splitlines() if "POSSIBLE NO-SHOW" in line]
    assert flagged == ["B-NOSHOW"]
    assert "D-CANCELLED" not in result.stdout  # a cancelled order books nothing

    # the periodic reconciliation stores the flag for the lab
    outcome = cli(usage_app, "iot", "reconcile", "--days", "100000")
    assert outcome.exit_code == 0 and "3 booked slots: 1 possible no-shows" in outcome.stdout
    with unit_of_work(usage_app.extensions["platform"].session_factory) as session:
        rows = {o.number: u for u, o in session.execute(select(OrderUsage, Order).join(Order)).all()}
    assert set(rows) == {"A-RUN", "B-NOSHOW", "E-BLIND"}
    assert rows["B-NOSHOW"].possible_no_show and rows["B-NOSHOW"].on_minutes == 0
    assert rows["A-RUN"].on_minutes == 60 and not rows["A-RUN"].possible_no_show
    assert rows["E-BLIND"].unobserved_minutes == 60 and not rows["E-BLIND"].possible_no_show


def _token(app: Flask, username: str | None) -> dict[str, str]:
    with unit_of_work(app.extensions["platform"].session_factory) as session:
        if username is None:
            user = User(display_name="企业用户", role=Role.enterprise)
            session.add(user)
            session.flush()
        else:
            user = session.scalar(select(User).where(User.username == username))
        return {"Authorization": f"Bearer {issue_token(app.extensions['platform'].settings.secret_key, user)}"}


def test_usage_api_for_the_lab_and_the_platform(usage_app: Flask) -> None:
    client = usage_app.test_client()
    path = f"/api/v1/instruments/{HPLC}/usage?month=2025-03"
    assert client.get(path).status_code == 401
    assert client.get(path, headers=_token(usage_app, None)).status_code == 403  # an enterprise user
    other_lab = client.get(path, headers=_token(usage_app, "hz-lab"))
    assert other_lab.status_code == 404 and other_lab.get_json()["error"]["code"] == "instrument_not_found"
    for who in ("cq-lab", "admin"):
        body = client.get(path, headers=_token(usage_app, who)).get_json()
        assert body["totals"]["on"] == 3.0 and body["external_hours"] == 1.0 and body["internal_hours"] == 2.0
        assert body["sharing_rate"] == pytest.approx(1 / 3, abs=1e-3)
        assert [s["order_number"] for s in body["slots"] if s["possible_no_show"]] == ["B-NOSHOW"]
        assert len(body["days"]) == 31 and body["days"][2]["hours"]["standby"] == 2.0
    bad = client.get(f"/api/v1/instruments/{HPLC}/usage?month=March", headers=_token(usage_app, "admin"))
    assert bad.status_code == 400 and bad.get_json()["error"]["code"] == "invalid_query"


def test_admin_overrides_thresholds_and_clears_them(usage_app: Flask) -> None:
    shown = cli(usage_app, "iot", "thresholds", HPLC)
    assert "not enough history" in shown.stdout  # nothing learned yet: defaults, and it says so
    set_ = cli(usage_app, "iot", "thresholds", HPLC, "--off-below", "0.3", "--on-above", "1.5", "--hysteresis", "1.1")
    assert set_.exit_code == 0 and "in force: off < 0.3 A, on > 1.5 A, hysteresis x1.100 (override)" in set_.stdout
    wrong = cli(usage_app, "iot", "thresholds", HPLC, "--off-below", "2", "--on-above", "1")
    assert wrong.exit_code == 1 and "0 < 关机阈值 < 运行阈值" in wrong.stderr
    cleared = cli(usage_app, "iot", "thresholds", HPLC, "--clear")
    assert "(override)" not in cleared.stdout and "(default)" in cleared.stdout


def test_each_hour_says_whether_it_was_measured_amended_corrected_or_unknown(app_factory, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from core.services.usage.hours import month_usage
    from core.services.usage.states import AmendedStretch, amend_state_history
    from core.services.people.authz import command_line_actor

    app = app_factory(tmp_path)
    assert cli(app, "catalog", "import", "--approve", str(MINI_CATALOG)).exit_code == 0
    with unit_of_work(app.extensions["platform"].session_factory) as session:
        iid = session.scalar(select(Instrument.id).where(Instrument.code == HPLC))
        # 8-10 standby live, 10-12 offline (a gateway lost its link), 12-13 on, 13-15 the clamp sent zeros, then off
        record_state_changes(session, [StateChange(iid, "standby", local(10, 8)), StateChange(iid, "offline", local(10, 10)),
                                       StateChange(iid, "on", local(10, 12)),
                                       StateChange(iid, "offline", local(10, 13), "sensor_fault"),
                                       StateChange(iid, "off", local(10, 15))])
        # the gateway's buffer arrives: 10-11 was on, 11-12 standby; staff say 14-15 the instrument ran
        amend_state_history(session, [AmendedStretch(iid, local(10, 10), local(10, 12), [
            StateChange(iid, "on", local(10, 10)), StateChange(iid, "standby", local(10, 11))])])
        amend_state_history(session, [AmendedStretch(iid, local(10, 14), local(10, 15), [
            StateChange(iid, "on", local(10, 14))], "staff")])
        usage = month_usage(session, command_line_actor(), HPLC, "2025-03", "Asia/Shanghai",
                            now=local(10, 18))
    day = next(d for d in usage.days if d.day.day == 10)
    # measured: 8-10 standby, 12-13 on, 15-18 off; amended 10-12; corrected 14-15; unknown 0-8 and 13-14
    assert day.audit == {"measured": 6.0, "amended": 2.0, "corrected": 1.0, "unknown": 9.0}
    assert day.sensor_fault_hours == 1.0 and day.hours["on"] == 3.0 and day.hours["offline"] == 1.0


def test_orders_that_ran_check_the_sensor_model(app_factory, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Slots of orders in testing are weak labels: the stored states should show the instrument on."""
    from core.services.usage.label_check import order_evidence

    app = app_factory(tmp_path)
    assert cli(app, "catalog", "import", "--approve", str(MINI_CATALOG)).exit_code == 0
    with unit_of_work(app.extensions["platform"].session_factory) as session:
        hplc, service, customer = hplc_service_customer(session)
        # the sensor saw standby all day: its "on" level was taken for standby
        record_state_changes(session, [StateChange(hplc.id, "standby", local(3, 8)), StateChange(hplc.id, "off", local(7, 18))])
        for i, (day, status) in enumerate([(3, OrderStatus.testing), (4, OrderStatus.settled), (5, OrderStatus.confirmed),
                                           (6, OrderStatus.paid)]):
            session.add(Order(number=f"W-{i}", user_id=customer.id, service_id=service.id, instrument_id=hplc.id,
                              institution_id=hplc.institution_id, samples=1, sample_description="样品", company_name="某公司",
                              contact_name="张三", contact_phone="13800000000", mode=DeliveryMode.visit,
                              slot_start=local(day, 9), slot_end=local(day, 11), unit_price_cents=100, total_cents=100,
                              status=status))
        session.flush()
        check = order_evidence(session, hplc.id, now=local(8, 12))
        assert (check.slots, check.seen_on, check.standby_instead) == (3, 0, 3)  # the paid one never ran
        assert check.agreement == 0 and check.doubtful
        # staff correct one run: the model still disagrees with the other two
        from core.services.usage.states import AmendedStretch, amend_state_history
        amend_state_history(session, [AmendedStretch(hplc.id, local(3, 9), local(3, 11), [StateChange(hplc.id, "on", local(3, 9))], "staff")])
        check = order_evidence(session, hplc.id, now=local(8, 12))
        assert (check.seen_on, check.standby_instead) == (1, 2) and check.doubtful


def test_a_frozen_month_keeps_what_the_report_read_and_a_correction_adds_a_version(app_factory, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from core.services.people.users import create_staff as make_staff
    from core.services.usage.corrections import correct_period
    from core.services.usage.frozen_months import freeze_month, month_versions

    app = app_factory(tmp_path)
    assert cli(app, "catalog", "import", "--approve", str(MINI_CATALOG)).exit_code == 0
    now = local(31, 12)  # 31 March 2025: February is over, March is not
    with unit_of_work(app.extensions["platform"].session_factory) as session:
        iid = session.scalar(select(Instrument.id).where(Instrument.code == HPLC))
        feb = lambda day, hour: datetime(2025, 2, day, hour, tzinfo=ZONE).astimezone(timezone.utc)  # noqa: E731
        record_state_changes(session, [StateChange(iid, "standby", feb(10, 8)), StateChange(iid, "on", feb(10, 9)),
                                       StateChange(iid, "off", feb(10, 12))])
        staff = make_staff(session, "cq-lab", "password-1", "T-CQ-FOOD")
        count = session.scalar(select(func.count()).select_from(Instrument))
        assert freeze_month(session, "2025-02", "Asia/Shanghai", "闲置仪器报告 2025年1-2月", now=now) == count
        assert freeze_month(session, "2025-02", "Asia/Shanghai", "again", now=now) == 0  # frozen once
        with pytest.raises(Exception) as refused:
            freeze_month(session, "2025-03", "Asia/Shanghai", "too early", now=now)
        assert "尚未结束" in str(refused.value)
        (v1,) = month_versions(session, HPLC, "2025-02")
        assert v1.figures["hours"]["on"] == 3.0 and v1.reason == "frozen"
        # staff say the instrument also ran 12:00-14:00 that day: the report's version stays, a new one follows
        correct_period(session, staff, HPLC, feb(10, 12), feb(10, 14), "on", "做样品测试，钳表松动", now=now)
        versions = month_versions(session, HPLC, "2025-02")
    assert [v.version for v in versions] == [1, 2]
    assert versions[0].figures["hours"]["on"] == 3.0 and versions[1].figures["hours"]["on"] == 5.0
    assert versions[1].figures["audit"]["corrected"] == 2.0 and "钳表松动" in versions[1].reason
    assert versions[1].purpose == "闲置仪器报告 2025年1-2月"
    shown = cli(app, "iot", "usage", "--instrument", HPLC, "--month", "2025-02")
    assert "frozen v1" in shown.stdout and "frozen v2" in shown.stdout and "钳表松动" in shown.stdout
