"""数据看板 as a platform admin reads it: every chart's numbers are the platform's real orders, searches,
instrument states, voucher money and machine-hours; an empty chart says 暂无数据; and in a real browser
an admin works the queues and then sees the charts drawn."""
from __future__ import annotations

import json
import re
import shutil
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Callable
from zoneinfo import ZoneInfo

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select, update

from core.models import Instrument, Order
from core.services.usage.states import StateChange, record_state_changes
from core.services.usage.status import STATUS_KEY
from tests.conftest import cli
from tests.orders.conftest import Market, build_market, next_weekday_at
from tests.web.conftest import SHOTS, browser_sign_in, needs_browser
from tests.web.test_console_queues import apply_for_voucher, disputed_order

DASHBOARD = "/console/dashboard"
CHARTS = ("orders", "searches", "services", "institutions", "states", "vouchers", "sharing")


def chart_json(html: str) -> dict[str, Any]:
    """Each chart's ECharts option as the page hands it to app.js."""
    found = re.findall(r'<script type="application/json" id="([a-z]+)-option">(.*?)</script>', html, re.S)
    return {key: json.loads(body) for key, body in found}


def visit_order_run_an_hour_ago(market: Market) -> str:
    """A paid visit booking whose slot was [now-3h, now-1h]; the HPLC was on from now-4h to now-2h (so 1 h of
    external service out of 2 h on), and Hangzhou's HPLC ran 1 h for in-house work."""
    start = next_weekday_at(10)
    number = market.order(service_code="T-CQ-S001", mode="visit", samples=1, slot_start=start.isoformat(),
                          delivery_date=None)["number"]
    assert market.pay(number)["status"] == "paid"
    now = datetime.now(timezone.utc)
    with market.app.extensions["platform"].session_factory() as session:
        # bookings cannot be made in the past: move the slot there, as if booked last week
        session.execute(update(Order).where(Order.number == number)
                        .values(slot_start=now - timedelta(hours=3), slot_end=now - timedelta(hours=1)))
        ids = dict(session.execute(select(Instrument.code, Instrument.id)).all())
        record_state_changes(session, [
            StateChange(ids["T-CQ-FOOD-0001"], "on", now - timedelta(hours=4)),
            StateChange(ids["T-CQ-FOOD-0001"], "off", now - timedelta(hours=2)),
            StateChange(ids["T-HZ-ATC-0001"], "on", now - timedelta(hours=5)),
            StateChange(ids["T-HZ-ATC-0001"], "standby", now - timedelta(hours=4)),
        ])
        session.commit()
    return number


def live_states(app: Flask) -> None:
    app.extensions["platform"].redis.hset(STATUS_KEY, mapping={
        "T-CQ-FOOD-0001": "in_use", "T-CQ-FOOD-0002": "idle", "T-HZ-ATC-0001": "off", "T-HZ-ATC-0002": "offline"})


def test_the_dashboard_is_for_platform_admins(client_as: Callable[[str], FlaskClient]) -> None:
    anonymous = client_as("anonymous").get(DASHBOARD)
    assert anonymous.status_code == 302 and "/login?next=/console/dashboard" in anonymous.headers["Location"]
    denied = client_as("lab_staff").get(DASHBOARD)
    assert denied.status_code == 403 and "没有权限" in denied.get_data(as_text=True)
    assert client_as("institution_admin").get(DASHBOARD).status_code == 403


def test_an_empty_platform_says_no_data_instead_of_empty_charts(client_as: Callable[[str], FlaskClient]) -> None:
    html = client_as("platform_admin").get(DASHBOARD).get_data(as_text=True)
    assert set(chart_json(html)) == {"stock"}  # the catalog's instruments are there; nothing has happened
    assert html.count("暂无数据") == len(CHARTS) + 2
    assert "共享率 = 对外服务机时 ÷ 开机机时" in html  # the formula is said even before there is data


def test_every_chart_shows_the_platforms_real_figures(web_app: Flask, client_as: Callable[[str], FlaskClient]) -> None:
    market = build_market(web_app)
    voucher = market.voucher(amount=5000)
    market.paid_order(voucher_id=voucher)  # 400: 200 of it held on the voucher
    settled = market.paid_order(voucher_id=voucher)  # 400, settled: its 200 voucher part goes to the lab
    market.through_report(settled)
    assert market.post(f"/orders/{settled}/confirm", market.customer).get_json()["status"] == "settled"
    market.paid_order(service_code="T-HZ-S002", samples=1)  # 150 in Hangzhou
    market.order()  # never paid: no business
    visit_order_run_an_hour_ago(market)  # 300
    apply_for_voucher(market, 3000)  # pending
    live_states(web_app)
    assert cli(web_app, "search", "reindex").exit_code == 0
    for q in ("辣椒粉 苏丹红", "苯甲酸 山梨酸", "帮我修一下空调"):
        assert market.client.get("/api/v1/search", query_string={"q": q}).status_code == 200

    html = client_as("platform_admin").get(DASHBOARD).get_data(as_text=True)
    charts = chart_json(html)
    # the province's hours need monthly figures (none yet): said so, every other chart drawn
    assert set(charts) == set(CHARTS) | {"stock", "trend"} and html.count("暂无数据") == 1

    orders = charts["orders"]  # all placed this month (local)
    assert orders["xAxis"]["data"] == [datetime.now(ZoneInfo("Asia/Shanghai")).strftime("%Y-%m")]
    assert orders["series"][0]["data"] == [4] and orders["series"][1]["data"] == [1250.0]

    services = charts["services"]  # drawn bottom-up: the first place is last
    assert services["yAxis"]["data"] == ["粉末X射线衍射物相分析", "食品中苏丹红I-IV号的测定", "食品中苯甲酸、山梨酸的测定"]
    assert services["series"][0]["data"] == [150.0, 300.0, 800.0] and services["series"][1]["data"] == [1, 1, 2]
    assert services["series"][0]["name"] == "成交额（元）" and services["series"][1]["name"] == "订单数"
    institutions = charts["institutions"]
    assert institutions["yAxis"]["data"] == ["杭州某大学分析测试中心", "重庆某食品检验研究院"]
    assert institutions["series"][0]["data"] == [150.0, 1100.0] and institutions["series"][1]["data"] == [1, 3]

    searches = charts["searches"]
    assert len(searches["xAxis"]["data"]) == 30
    # the searches' day, not the chart's last: a test running across local midnight sees a new, empty day
    assert [n for n in searches["series"][0]["data"] if n] == [3]
    assert [r for r in searches["series"][1]["data"] if r is not None] == [33.3]
    assert "近 30 天共 3 次搜索，其中 1 次没有找到匹配的服务（无结果占比 33.3%）" in html

    pie = {d["name"]: d["value"] for d in charts["states"]["series"][0]["data"]}
    assert pie == {"运行": 1, "待机": 1, "关机": 1, "离线": 1}
    assert "另有 3 台暂无传感器数据" in html  # 7 instruments of approved institutions

    vouchers = charts["vouchers"]
    assert vouchers["xAxis"]["data"] == ["已批准", "已预留", "已核销", "可用余额"]
    assert [bar["value"] for bar in vouchers["series"][0]["data"]] == [5000.0, 200.0, 200.0, 4600.0]
    assert "另有待审批的申请 ¥3,000.00" in html

    sharing = charts["sharing"]
    assert sharing["xAxis"]["data"] == ["重庆", "杭州"] and sharing["series"][0]["data"] == [50.0, 0.0]
    table = re.search(r'<table class="table table-sm small mb-0" id="sharing-table">(.*?)</table>', html, re.S)
    assert table and "1.00 小时" in table.group(1) and "2.00 小时" in table.group(1) and "50.0%" in table.group(1)
    market.assert_books_balance()


def _shot(browser, tmp_path: Path, name: str) -> Path:  # type: ignore[no-untyped-def]
    path = tmp_path / f"{name}.png"
    browser.save_screenshot(str(path))
    SHOTS.mkdir(parents=True, exist_ok=True)
    shutil.copy(path, SHOTS / f"{name}.png")
    return path


def _fit_page(browser) -> None:  # type: ignore[no-untyped-def]
    time.sleep(1.5)  # ECharts animates its series in: let them land before the picture
    height = browser.execute_script("return document.documentElement.scrollHeight")
    browser.set_window_size(browser.get_window_size()["width"], min(max(height + 120, 900), 4000))


@needs_browser
def test_an_admin_works_the_queues_then_reads_the_charts_in_a_browser(
        web_app: Flask, served: str, browser, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as seen
    from selenium.webdriver.support.ui import WebDriverWait

    market = build_market(web_app)
    number = disputed_order(market, market.voucher(amount=5000))  # 400: 200 voucher, 200 cash
    application = apply_for_voucher(market, 3000, "新产品检测")
    visit_order_run_an_hour_ago(market)
    live_states(web_app)
    assert cli(web_app, "search", "reindex").exit_code == 0
    for q in ("辣椒粉 苏丹红", "帮我修一下空调"):
        assert market.client.get("/api/v1/search", query_string={"q": q}).status_code == 200
    wait = WebDriverWait(browser, 20)

    browser_sign_in(browser, served, "platform_admin")
    wait.until(seen.url_contains("/console/dashboard"))
    browser.get(served + "/console/queues")
    assert browser.find_element(By.CSS_SELECTOR, 'a[href="/console/queues"] .badge').text == "2"
    card = browser.find_element(By.ID, f"voucher-{application}")
    assert "已等待" in card.text or "刚刚提交" in card.text
    assert card.find_element(By.NAME, "amount_cny").get_attribute("value") == "3000.00"
    _fit_page(browser)
    _shot(browser, tmp_path, "queues")
    browser.set_window_size(390, 900)  # a phone
    _fit_page(browser)
    _shot(browser, tmp_path, "queues-phone")
    browser.set_window_size(1280, 900)

    card.find_element(By.CSS_SELECTOR, ".approve-form button[type=submit]").click()
    wait.until(seen.text_to_be_present_in_element((By.CSS_SELECTOR, ".alert-success"), "已批准"))
    assert not browser.find_elements(By.ID, f"voucher-{application}")
    assert "没有待审核的创新券申请" in browser.page_source

    dispute = browser.find_element(By.ID, f"dispute-{number}")
    assert "¥400.00" in dispute.text and "¥200.00" in dispute.text
    dispute.find_element(By.ID, f"dispute-{number}-outcome-partial").click()
    dispute.find_element(By.ID, f"dispute-{number}-refund-amount").send_keys("150")
    dispute.find_element(By.ID, f"dispute-{number}-reason").send_keys("复测一半指标")
    dispute.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    wait.until(seen.text_to_be_present_in_element((By.CSS_SELECTOR, ".alert-success"), "争议已裁定"))
    assert not browser.find_elements(By.ID, f"dispute-{number}")
    assert not browser.find_elements(By.CSS_SELECTOR, 'a[href="/console/queues"] .badge')
    _shot(browser, tmp_path, "queues-done")
    assert market.get(f"/orders/{number}", market.customer).get_json()["status"] == "settled"
    market.assert_books_balance()

    browser.set_window_size(1280, 900)
    browser.get(served + DASHBOARD)
    wait.until(lambda b: b.execute_script("return [...document.querySelectorAll('[data-chart]')]"
                                          ".every(el => el.dataset.drawn === '1' && el.querySelector('canvas'))"))
    drawn = browser.execute_script(
        "return [...document.querySelectorAll('[data-chart]')].map(el => el.id)")
    assert set(drawn) >= {f"chart-{key}" for key in CHARTS}
    vouchers = browser.execute_script(
        "return echarts.getInstanceByDom(document.getElementById('chart-vouchers')).getOption().series[0].data"
        ".map(d => d.value)")
    # approved 5000 + 3000; the dispute's partial refund left 125 of the voucher part with the lab
    assert vouchers == [8000, 0, 125, 7875]
    pie = browser.execute_script(
        "return echarts.getInstanceByDom(document.getElementById('chart-states')).getOption().series[0].data"
        ".map(d => [d.name, d.value])")
    assert pie == [["运行", 1], ["待机", 1], ["关机", 1], ["离线", 1]]
    orders = browser.execute_script(
        "return JSON.parse(document.getElementById('orders-option').textContent).series[0].data")
    assert orders == [2]  # the disputed order and the visit booking
    searches = browser.execute_script(
        "return echarts.getInstanceByDom(document.getElementById('chart-searches')).getOption().series[1].data")
    # one of the two searches found nothing (on their day, which need not be the chart's last)
    assert [r for r in searches if r is not None] == [50]
    _fit_page(browser)
    _shot(browser, tmp_path, "dashboard")

    browser.set_window_size(390, 900)  # a phone: the charts follow the width
    browser.refresh()
    wait.until(lambda b: b.execute_script(
        "return [...document.querySelectorAll('[data-chart]')].every(el => el.dataset.drawn === '1')"))
    _fit_page(browser)
    _shot(browser, tmp_path, "dashboard-phone")


def test_the_province_view_compares_the_platform_with_the_national_averages(
        web_app: Flask, client_as: Callable[[str], FlaskClient]) -> None:
    from core.models import InstrumentMonth
    from core.models._types import utcnow
    from core.services.data.monthly_hours import last_full_months

    months = last_full_months(12, "Asia/Shanghai")
    with web_app.extensions["platform"].transaction() as session:
        ids = dict(session.execute(select(Instrument.code, Instrument.id)).all())
        session.execute(update(Instrument).where(Instrument.code.like("T-CQ-%")).values(classification_code="0105"))
        # the HPLC: 100 h a month, 20 of them external, for the whole year; the XRD: 6 months of 50 h (自报)
        for month in months:
            session.add(InstrumentMonth(instrument_id=ids["T-CQ-FOOD-0001"], month=month, effective_hours=100,
                                        external_hours=20, effective_source="sensor", computed_at=utcnow()))
        for month in months[-6:]:
            session.add(InstrumentMonth(instrument_id=ids["T-HZ-ATC-0002"], month=month, effective_hours=50,
                                        external_hours=0, effective_source="self_report", computed_at=utcnow()))
    html = client_as("platform_admin").get(DASHBOARD).get_data(as_text=True)
    charts = chart_json(html)
    hours = {s["name"]: s["data"] for s in charts["hours"]["series"]}
    # per instrument-year: (1200 + 600) / 2 effective, (240 + 0) / 2 external; national 1599 and 273
    assert hours == {"本平台平均": [900.0, 120.0], "全国平均（2025 年度考核）": [1599.0, 273.0]}
    assert 'id="province-sharing">13.3%<' in html  # 120 / 900
    stock = {s["name"]: s["data"] for s in charts["stock"]["series"]}
    cities = charts["stock"]["xAxis"]["data"]
    assert stock["分析仪器"][cities.index("重庆")] == 2 and sum(stock["未分类"]) == 6
