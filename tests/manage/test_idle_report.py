"""The idle-instrument report on a hand-made platform, every figure worked out here: 有效机时 from the
sensor, the 自报 share where the sensor did not see, 定额 pro-rated by classification, each flag, the
totals per institution and city, the comparison with the previous report, an immutable snapshot with
versions, months frozen for the audit, and who may read which part."""
from __future__ import annotations

import re
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Iterator
from zoneinfo import ZoneInfo

import pytest
from flask import Flask
from sqlalchemy import select, update

from core.db import unit_of_work
from core.errors import BusinessRuleViolation, InvalidInput
from core.models import Instrument, InstrumentStateInterval, SelfReportedHours, UsageMonthVersion
from core.services.data import idle_report
from core.services.data.idle_reports import find_report
from tests.conftest import build_app, stop_app
from tests.orders.conftest import Market, build_market

TZ = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 3, 10, 4, tzinfo=timezone.utc)
JAN1, MAR1 = datetime(2026, 1, 1, tzinfo=TZ), datetime(2026, 3, 1, tzinfo=TZ)
PERIOD_H = 59 * 24  # January and February 2026
QUOTA_GENERAL = 1400 * 59 / 365  # 226.30 h
QUOTA_SPECIAL = 800 * 59 / 365  # 129.32 h: class 05 (ocean instruments) is special-purpose


def at(day: int, hour: int = 0) -> datetime:
    """Local day `day` of 2026 (1 = 1 January) at `hour`."""
    return JAN1 + timedelta(days=day - 1, hours=hour)


@pytest.fixture
def market(tmp_path: Path) -> Iterator[Market]:
    app = build_app(tmp_path)
    m = build_market(app)
    hand_made(app)
    yield m
    stop_app(app)


def hand_made(app: Flask) -> None:
    """Four listed instruments with January and February 2026 as the comments below say."""
    with unit_of_work(app.extensions["platform"].session_factory) as session:
        ids = dict(session.execute(select(Instrument.code, Instrument.id)).all())
        session.execute(update(Instrument).values(value_cny=100_000))  # not listed unless set below
        records: dict[str, dict[str, Any]] = {
            # an HPLC in use: 200 h on
            "T-CQ-FOOD-0001": dict(value_cny=420_000, classification_code="0105", in_service_date=date(2019, 6, 1)),
            # a special-purpose instrument on 20 h: below half its quota
            "T-CQ-FOOD-0002": dict(value_cny=800_000, classification_code="0500", in_service_date=date(2021, 3, 1)),
            # an XRD with no sensor, no order, not shared, in service since 2020
            "T-HZ-ATC-0002": dict(value_cny=400_000, classification_code="0103", in_service_date=date(2020, 1, 1),
                                  share_mode="none", open_for_sharing=False),
            # an SEM whose sensor went silent on 11 January; the institution reports its hours
            "T-HZ-ATC-0003": dict(value_cny=350_000, classification_code="0101", in_service_date=date(2022, 5, 1)),
        }
        for code, values in records.items():
            session.execute(update(Instrument).where(Instrument.id == ids[code]).values(**values))

        def run(code: str, *pieces: tuple[str, datetime, datetime | None]) -> None:
            for state, start, end in pieces:
                session.add(InstrumentStateInterval(instrument_id=ids[code], state=state, start_at=start, end_at=end,
                                                    source="sensor"))
        run("T-CQ-FOOD-0001", ("standby", at(1), at(5)), ("on", at(5), at(5, 200)), ("standby", at(5, 200), None))
        run("T-CQ-FOOD-0002", ("off", at(1), at(20)), ("on", at(20), at(20, 20)), ("off", at(20, 20), None))
        run("T-HZ-ATC-0003", ("standby", at(1), at(11)), ("offline", at(11), None))
        session.add_all([SelfReportedHours(instrument_id=ids["T-HZ-ATC-0003"], month=month, hours=hours,
                                           reported_by_name="杭州某检测院") for month, hours in (("2026-01", 100), ("2026-02", 50))])


def institution_admin(market: Market, institution: str, name: str) -> dict[str, str]:
    """Bearer headers of a new institution admin (the demo sign-in makes no admins)."""
    from core.models import Institution, Role, User
    from core.services.people.auth import issue_token

    with unit_of_work(market.app.extensions["platform"].session_factory) as session:
        owner = session.scalar(select(Institution).where(Institution.code == institution))
        user = User(username=f"admin-{institution}", display_name=name, role=Role.institution_admin,
                    institution_id=owner.id)
        session.add(user)
        session.flush()
        token = issue_token(market.app.extensions["platform"].settings.secret_key, user)
    return {"Authorization": f"Bearer {token}"}


def generate(app: Flask, start: str = "2026-01", end: str = "2026-02", now: datetime = NOW) -> Any:
    settings = app.extensions["platform"].settings
    with unit_of_work(app.extensions["platform"].session_factory) as session:
        report = idle_report.generate(session, start, end, settings.data, "Asia/Shanghai", "测试", now)
        return report.id, report.version, report.body


def rows_by_code(body: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {row["code"]: row for row in body["instruments"]}


def test_every_figure_and_flag_as_worked_out_by_hand(market: Market) -> None:
    _, version, body = generate(market.app)
    rows = rows_by_code(body)
    assert version == 1 and set(rows) == {"T-CQ-FOOD-0001", "T-CQ-FOOD-0002", "T-HZ-ATC-0002", "T-HZ-ATC-0003"}

    hplc = rows["T-CQ-FOOD-0001"]
    assert hplc["effective_hours"] == pytest.approx(200) and hplc["quota_hours"] == pytest.approx(QUOTA_GENERAL, abs=0.01)
    assert hplc["flags"] == [] and not hplc["idle"] and hplc["sensor"] == "ok" and not hplc["self_reported"]

    special = rows["T-CQ-FOOD-0002"]
    assert special["quota_hours"] == pytest.approx(QUOTA_SPECIAL, abs=0.01)
    assert special["effective_hours"] == pytest.approx(20) and special["flags"] == ["below_half_quota"]

    xrd = rows["T-HZ-ATC-0002"]
    assert xrd["effective_hours"] == 0 and xrd["sensor"] == "none"
    assert xrd["flags"] == ["below_half_quota", "zero_hours", "unused_over_a_year", "sensor_missing", "not_shared"]

    # January: the sensor saw 10 of 31 days, so 21/31 of the 100 reported hours count; February: 50 自报
    sem = rows["T-HZ-ATC-0003"]
    assert sem["effective_hours"] == pytest.approx(100 * 21 / 31 + 50, abs=0.01)
    assert sem["self_reported"] and sem["sensor"] == "silent" and sem["flags"] == ["sensor_silent"] and not sem["idle"]

    # the idle come first, the most valuable first; totals per institution and city
    assert [r["code"] for r in body["instruments"]][:2] == ["T-CQ-FOOD-0002", "T-HZ-ATC-0002"]
    totals = body["totals"]
    assert (totals["listed"], totals["idle"], totals["idle_value_cny"]) == (4, 2, 1_200_000)
    assert {g["city"]: (g["listed"], g["idle"], g["idle_value_cny"]) for g in totals["by_city"]} == {
        "重庆": (2, 1, 800_000), "杭州": (2, 1, 400_000)}
    assert [g["institution"] for g in totals["by_institution"]] == ["T-CQ-FOOD", "T-HZ-ATC"]  # by idle value
    assert totals["by_flag"]["zero_hours"] == 1 and totals["by_flag"]["sensor_silent"] == 1
    assert body["previous"] is None


def test_a_published_report_never_changes_and_a_rerun_is_a_new_version(market: Market) -> None:
    first_id, _, first = generate(market.app)
    with unit_of_work(market.app.extensions["platform"].session_factory) as session:
        months = sorted(set(session.scalars(select(UsageMonthVersion.month))))
        assert months == ["2026-01", "2026-02"]  # frozen for the audit when the report read them
        xrd = session.scalar(select(Instrument).where(Instrument.code == "T-HZ-ATC-0002"))
        session.add(InstrumentStateInterval(instrument_id=xrd.id, state="on", start_at=at(40), end_at=at(40, 80),
                                            source="staff"))
    _, version, second = generate(market.app)
    assert version == 2 and rows_by_code(second)["T-HZ-ATC-0002"]["effective_hours"] == pytest.approx(80)
    assert "zero_hours" not in rows_by_code(second)["T-HZ-ATC-0002"]["flags"]
    with unit_of_work(market.app.extensions["platform"].session_factory) as session:
        kept = find_report(session, "2026-01", "2026-02", version=1)
        assert kept.id == first_id and kept.body == first
        assert find_report(session, "2026-01", "2026-02").version == 2


def test_the_next_report_says_what_changed(market: Market) -> None:
    generate(market.app, "2025-11", "2025-12")  # nothing had run: everything listed is at zero
    _, _, body = generate(market.app)
    change = body["previous"]
    assert change["period"] == {"from": "2025-11", "to": "2025-12"}
    # November–December: all four idle (no hours); now the HPLC and the SEM are not
    assert sorted(change["no_longer_idle"]) == ["T-CQ-FOOD-0001", "T-HZ-ATC-0003"] and change["newly_idle"] == []
    assert change["idle_change"] == -2 and change["idle_value_change_cny"] == -(420_000 + 350_000)


def test_a_period_must_have_ended_and_be_well_formed(market: Market) -> None:
    with pytest.raises(BusinessRuleViolation, match="尚未结束"):
        generate(market.app, "2026-02", "2026-03")
    with pytest.raises(InvalidInput, match="起始月份不能晚于结束月份"):
        generate(market.app, "2026-02", "2026-01")
    with pytest.raises(InvalidInput):
        generate(market.app, "2026-13", "2026-14")


def test_the_schedule_runs_on_the_first_of_odd_months() -> None:
    assert idle_report.two_months_ended(date(2026, 1, 1)) == ("2025-11", "2025-12")
    assert idle_report.two_months_ended(date(2026, 11, 1)) == ("2026-09", "2026-10")
    assert idle_report.two_months_ended(date(2026, 12, 1)) is None and idle_report.two_months_ended(date(2026, 11, 2)) is None


def test_the_schedule_publishes_once_and_tells_each_institution(market: Market) -> None:
    from core.models import Notification, User
    from workers.report_jobs import schedule_idle_report

    institution_admin(market, "T-HZ-ATC", "杭州管理员")
    platform = market.app.extensions["platform"]
    first_of_march = datetime(2026, 3, 1, 7, tzinfo=TZ)
    with platform.transaction() as session:
        assert schedule_idle_report(session, platform.settings, first_of_march.replace(hour=5)) == 0  # before 06:00
        assert schedule_idle_report(session, platform.settings, first_of_march) == 1
    with platform.transaction() as session:
        assert schedule_idle_report(session, platform.settings, first_of_march) == 0  # already waiting
    from tests.conftest import cli
    assert cli(market.app, "worker", "--burst", "--simple").exit_code == 0
    with platform.transaction() as session:
        report = find_report(session, "2026-01", "2026-02")
        assert report.generated_by == "定时任务" and report.version == 1
        assert schedule_idle_report(session, platform.settings, first_of_march.replace(hour=9)) == 0
        admin = session.scalar(select(User).where(User.display_name == "杭州管理员"))
        notes = list(session.scalars(select(Notification).where(Notification.user_id == admin.id)))
    assert len(notes) == 1 and notes[0].title == "闲置仪器通报已发布"
    assert "贵单位 1 台仪器列为闲置，原值合计 40.00 万元" in notes[0].body


def test_the_api_gives_admins_the_whole_and_institutions_their_part(market: Market) -> None:
    hz = institution_admin(market, "T-HZ-ATC", "杭州管理员")
    query = {"from": "2026-01", "to": "2026-02"}
    assert market.client.get("/api/v1/admin/reports/idle", query_string=query).status_code == 401
    assert market.client.get("/api/v1/admin/reports/idle", query_string=query, headers=market.customer).status_code == 403
    missing = market.client.get("/api/v1/admin/reports/idle", query_string=query, headers=hz)
    assert missing.status_code == 404 and "没有 2026-01 至 2026-02 的闲置仪器通报" in missing.get_json()["error"]["message"]

    whole = market.client.get("/api/v1/admin/reports/idle", query_string=query, headers=market.admin)
    assert whole.status_code == 200  # generated on first asking
    body = whole.get_json()
    assert body["period"] == query and body["version"] == 1 and len(body["instruments"]) == 4
    assert body["generated_at"].endswith("+00:00") and body["thresholds"]["min_value_cny"] == 300000

    own = market.client.get("/api/v1/admin/reports/idle", query_string=query, headers=hz).get_json()
    assert {r["institution"]["code"] for r in own["instruments"]} == {"T-HZ-ATC"}
    assert own["totals"]["idle"] == 1 and own["totals"]["platform"]["idle"] == 2 and own["previous"] is None

    again = market.client.post("/api/v1/admin/reports/idle", json=query, headers=market.admin)
    assert again.status_code == 201 and again.get_json()["version"] == 2
    assert market.client.post("/api/v1/admin/reports/idle", json=query, headers=hz).status_code == 403
    for bad in ({"from": "2026-1", "to": "2026-02"}, {"from": "2026-03", "to": "2026-02"}, {"from": 202601, "to": "2026-02"}):
        refused = market.client.post("/api/v1/admin/reports/idle", json=bad, headers=market.admin)
        assert refused.status_code == 400 and re.search(r"[\u4e00-\u9fff]", refused.get_json()["error"]["message"])
    late = market.client.post("/api/v1/admin/reports/idle", json={"from": "2099-11", "to": "2099-12"}, headers=market.admin)
    assert late.status_code == 422 and "尚未结束" in late.get_json()["error"]["message"]

    xlsx = market.client.get("/api/v1/admin/reports/idle", query_string={**query, "format": "xlsx", "version": "1"},
                             headers=market.admin)
    assert xlsx.status_code == 200 and xlsx.data[:2] == b"PK" and "v1.xlsx" in xlsx.headers["Content-Disposition"]
    pdf = market.client.get("/api/v1/admin/reports/idle", query_string={**query, "format": "pdf"}, headers=hz)
    assert pdf.status_code == 200 and pdf.data[:5] == b"%PDF-"
