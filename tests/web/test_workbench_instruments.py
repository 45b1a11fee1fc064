"""仪器 pages as lab staff meet them: their instruments' live state in Chinese with since when and why
offline, the last seven days as coloured bands with hours per state, a month's external against
internal hours with the sharing rate and its formula, and the slots flagged as possible no-shows."""
from __future__ import annotations

import json
import re
import shutil
from datetime import datetime, time, timedelta, timezone
from pathlib import Path
from typing import Any, Callable
from zoneinfo import ZoneInfo

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from core.db import unit_of_work
from core.models import DeliveryMode, Instrument, Order, OrderStatus, Role, Service, User
from core.models._types import utcnow
from core.services.people.users import create_staff
from core.services.usage.states import StateChange, record_state_changes
from core.services.usage.status import STATUS_KEY
from tests.web.conftest import SHOTS, browser_sign_in, sign_in

HPLC = "T-CQ-FOOD-0001"
LCMS = "T-CQ-FOOD-0002"
ZONE = ZoneInfo("Asia/Shanghai")


def march(day: int, hour: float) -> datetime:
    return datetime(2025, 3, day, int(hour), int(round(hour % 1 * 60)), tzinfo=ZONE).astimezone(timezone.utc)


def chart(html: str, chart_id: str) -> dict[str, Any]:
    found = re.search(rf'<script type="application/json" id="{chart_id}">(.*?)</script>', html, re.S)
    assert found, f"no chart data {chart_id}"
    return json.loads(found.group(1))


@pytest.fixture
def sensed(web_app: Flask) -> dict[str, Any]:
    """March 2025 as in tests/iot/test_usage.py (on 3 h, 1 h of it in a customer's slot, one no-show),
    then three days ago: off, standby 8–9, on 9–12, standby 12–13, off; the next day on 10–11:30;
    offline since two hours ago (the ingestion's live status says so too)."""
    platform = web_app.extensions["platform"]
    now = utcnow()
    base_day = now.astimezone(ZONE).date() - timedelta(days=3)
    base = datetime.combine(base_day, time(0), ZONE).astimezone(timezone.utc)
    offline_at = now - timedelta(hours=2)
    with unit_of_work(platform.session_factory) as session:
        hplc = session.scalar(select(Instrument).where(Instrument.code == HPLC))
        service = session.scalar(select(Service).where(Service.instrument_id == hplc.id))
        customer = User(display_name="某食品公司", role=Role.enterprise)
        session.add(customer)
        session.flush()
        timeline = [(march(3, 8), "standby"), (march(3, 9), "on"), (march(3, 11), "standby"), (march(3, 12), "off"),
                    (march(3, 14), "on"), (march(3, 15), "off"), (march(6, 9), "offline"), (march(6, 12), "off"),
                    (base, "off"), (base + timedelta(hours=8), "standby"), (base + timedelta(hours=9), "on"),
                    (base + timedelta(hours=12), "standby"), (base + timedelta(hours=13), "off"),
                    (base + timedelta(hours=34), "on"), (base + timedelta(hours=35.5), "off"), (offline_at, "offline")]
        record_state_changes(session, [StateChange(hplc.id, state, at) for at, state in timeline])
        for number, status, day, start, end in (("WB-RUN", OrderStatus.testing, 3, 9.5, 10.5),
                                                ("WB-NOSHOW", OrderStatus.confirmed, 4, 10, 11)):
            session.add(Order(number=number, user_id=customer.id, service_id=service.id, instrument_id=hplc.id,
                              institution_id=hplc.institution_id, samples=1, sample_description="辣椒粉",
                              company_name="某食品公司", contact_name="张三", contact_phone="13800000000",
                              mode=DeliveryMode.visit, slot_start=march(day, start), slot_end=march(day, end),
                              unit_price_cents=30000, total_cents=30000, status=status))
        create_staff(session, "hz-lab", "password-hz-1", "T-HZ-ATC")
    platform.redis.hset(STATUS_KEY, mapping={HPLC: "offline", "T-HZ-ATC-0001": "in_use"})
    return {"base_day": base_day, "offline_at": offline_at}


def test_the_list_shows_live_states_in_chinese_with_since_and_the_offline_reason(
        sensed: dict[str, Any], client_as: Callable[[str], FlaskClient]) -> None:
    html = client_as("lab_staff").get("/workbench/instruments").get_data(as_text=True)
    assert "仪器与实时状态" in html and "高效液相色谱仪" in html and "液相色谱-串联质谱仪" in html
    row = html[html.index(f'id="instrument-{HPLC}"'):]
    row = row[:row.index("</tr>")]
    since = sensed["offline_at"].astimezone(ZONE).strftime("%Y-%m-%d %H:%M")
    assert "离线" in row and f"自 {since} 起" in row and "已 2 小时" in row
    assert "未收到电流传感器数据" in row and "离线前为关机" in row
    assert f'href="/workbench/instruments/{HPLC}/calendar"' in row
    lcms = html[html.index(f'id="instrument-{LCMS}"'):]
    assert "无数据" in lcms[:lcms.index("</tr>")]
    assert "T-HZ-ATC-0001" not in html  # another institution's instrument is not listed
    counts = re.search(r'id="count-offline">.*?class="count">(\d+)<', html, re.S)
    assert counts and counts.group(1) == "1"


def test_the_instrument_page_draws_seven_days_of_bands_with_hours_per_state(
        sensed: dict[str, Any], client_as: Callable[[str], FlaskClient]) -> None:
    html = client_as("institution_admin").get(f"/workbench/instruments/{HPLC}").get_data(as_text=True)
    assert "近 7 天运行状态" in html and f'href="/workbench/instruments/{HPLC}/calendar"' in html
    option = chart(html, "timeline-option")
    assert option["legend"]["data"] == ["运行", "待机", "关机", "离线"]
    assert len(option["yAxis"]["data"]) == 7
    base = sensed["base_day"]
    label = next(lab for lab in option["yAxis"]["data"] if lab.startswith(base.strftime("%m-%d")))
    series = {s["name"]: s for s in option["series"]}
    assert [9.0, label] in series["运行"]["data"] and [12.0, label] in series["运行"]["data"]
    assert series["运行"]["lineStyle"]["color"] == "#2e9e44" and series["离线"]["lineStyle"]["color"] == "#d9363e"
    next_label = option["yAxis"]["data"][option["yAxis"]["data"].index(label) + 1]
    assert [10.0, next_label] in series["运行"]["data"] and [11.5, next_label] in series["运行"]["data"]
    # the hours table: the day of the bands, and the day after
    table = html[html.index('id="state-hours"'):]
    day_row = table[table.index(base.isoformat()):]
    assert re.findall(r"<td>([\d.]+)</td>", day_row[:day_row.index("</tr>")]) == ["3.00", "2.00", "19.00", "0.00"]
    after = table[table.index((base + timedelta(days=1)).isoformat()):]
    assert re.findall(r"<td>([\d.]+)</td>", after[:after.index("</tr>")]) == ["1.50", "0.00", "22.50", "0.00"]


def test_the_monthly_chart_splits_external_from_internal_hours_and_lists_no_shows(
        sensed: dict[str, Any], client_as: Callable[[str], FlaskClient]) -> None:
    html = client_as("lab_staff").get(f"/workbench/instruments/{HPLC}?month=2025-03").get_data(as_text=True)
    option = chart(html, "month-option")
    assert option["legend"]["data"] == ["对外服务机时", "内部使用机时"]
    assert len(option["xAxis"]["data"]) == 31 and option["xAxis"]["data"][2] == "3日"
    series = {s["name"]: s["data"] for s in option["series"]}
    assert series["对外服务机时"][2] == 1.0 and series["内部使用机时"][2] == 2.0
    assert sum(series["对外服务机时"]) == 1.0 and sum(series["内部使用机时"]) == 2.0
    assert re.search(r'id="stat-sharing">.*?33\.3%', html, re.S)
    assert "共享率 = 对外服务机时 ÷ 运行机时" in html
    no_shows = html[html.index('id="no-shows"'):]
    assert '<a href="/workbench/orders/WB-NOSHOW">WB-NOSHOW</a>' in no_shows and "WB-RUN" not in no_shows
    assert "2025-03-04 10:00 – 11:00" in no_shows and "已确认" in no_shows
    # the month selector moves by month; a malformed month is refused in Chinese
    assert 'href="?month=2025-02"' in html and 'href="?month=2025-04"' in html
    bad = client_as("lab_staff").get(f"/workbench/instruments/{HPLC}?month=2025-13")
    assert bad.status_code == 400 and "月格式" in bad.get_data(as_text=True)
    # this month by default, without a flag when nothing is booked
    current = client_as("lab_staff").get(f"/workbench/instruments/{HPLC}").get_data(as_text=True)
    assert "本月没有疑似爽约的预约时段" in current


def test_who_may_see_the_instrument_pages(sensed: dict[str, Any], web_app: Flask,
                                         client_as: Callable[[str], FlaskClient]) -> None:
    for path in ("/workbench/instruments", f"/workbench/instruments/{HPLC}"):
        anonymous = web_app.test_client().get(path)
        assert anonymous.status_code == 302 and "/login?next=" in anonymous.headers["Location"]
        assert client_as("platform_admin").get(path).status_code == 403
    staff = client_as("lab_staff")
    for path in ("/workbench/instruments/T-HZ-ATC-0001", "/workbench/instruments/NO-SUCH-0001",
                 "/workbench/instruments/T-HZ-ATC-0001?month=2025-03"):
        missing = staff.get(path)
        assert missing.status_code == 404 and "页面不存在" in missing.get_data(as_text=True)
    # and the other way round: Hangzhou's staff see theirs, not Chongqing's
    hz = sign_in(web_app.test_client(), "hz-lab", "password-hz-1")
    assert hz.get(f"/workbench/instruments/{HPLC}").status_code == 404
    listing = hz.get("/workbench/instruments").get_data(as_text=True)
    assert "T-HZ-ATC-0001" in listing and HPLC not in listing and "运行" in listing


def test_staff_see_the_instrument_pages_in_a_browser(sensed: dict[str, Any], served: str, browser,  # type: ignore[no-untyped-def]
                                                     tmp_path: Path) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ready
    from selenium.webdriver.support.ui import WebDriverWait

    SHOTS.mkdir(parents=True, exist_ok=True)
    browser_sign_in(browser, served, "lab_staff")
    WebDriverWait(browser, 10).until(ready.url_contains("/workbench/today"))

    def shoot(name: str, width: int = 1280) -> None:
        browser.set_window_size(width, 900)
        for _ in range(2):  # the whole page: resizing reflows it, so measure again
            browser.set_window_size(width, browser.execute_script("return document.documentElement.scrollHeight") + 200)
        assert browser.execute_script("return document.documentElement.scrollWidth") <= width  # no sideways page
        browser.save_screenshot(str(tmp_path / f"{name}.png"))
        shutil.copy(tmp_path / f"{name}.png", SHOTS / f"{name}.png")
        browser.set_window_size(1280, 900)

    browser.get(served + "/workbench/instruments")
    assert "离线" in browser.find_element(By.ID, f"instrument-{HPLC}").text
    shoot("instruments")
    shoot("instruments-phone", width=390)

    browser.get(served + f"/workbench/instruments/{HPLC}?month=2025-03")
    for chart_id in ("chart-timeline", "chart-month"):
        WebDriverWait(browser, 10).until(
            lambda b, c=chart_id: b.find_elements(By.CSS_SELECTOR, f"#{c} canvas"))
    painted = browser.execute_script(
        "return window.echarts.getInstanceByDom(document.getElementById('chart-timeline'))"
        ".getOption().series.map(function (s) { return s.data.length; })")
    assert painted[0] > 0  # the 运行 bands reached the chart
    assert "33.3%" in browser.find_element(By.ID, "stat-sharing").text
    shoot("instrument")
    shoot("instrument-phone", width=390)  # a phone: the cards stack, the tables scroll inside their card
