"""The lab's day in a real browser (Debian's headless Chromium): sign in, see the paid order in 今日待办,
open it, accept it, take the samples, start testing, upload the report through the page and watch the
order move on. Screenshots of each page go to the test's tmp_path and to the screenshots folder (tests/web/conftest.py SHOTS)."""
from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Callable
from zoneinfo import ZoneInfo

import pytest
from flask import Flask

from tests.orders.conftest import Market, build_market
from tests.web.conftest import browser_sign_in, build_web_app, needs_browser, shoot



@pytest.fixture
def web_app(app_factory: Callable[..., Flask], tmp_path: Path) -> Flask:
    return build_web_app(app_factory(tmp_path / "app", RATE_LIMIT_LOGIN_PER_IP="100000"))


@pytest.fixture
def market(web_app: Flask) -> Market:
    return build_market(web_app)




@needs_browser
def test_lab_staff_take_a_paid_order_to_its_report(  # type: ignore[no-untyped-def]
        market: Market, served: str, browser, tmp_path: Path) -> None:
    from selenium.common.exceptions import StaleElementReferenceException
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as seen
    from selenium.webdriver.support.ui import WebDriverWait

    tomorrow = (datetime.now(ZoneInfo("Asia/Shanghai")).date() + timedelta(days=1)).isoformat()
    number = market.paid_order(delivery_date=tomorrow)
    older = market.paid_order(delivery_date=tomorrow, service_code="T-CQ-S003", samples=1)
    for step in ("accept", "samples-received", "start-testing"):  # one further along, in testing
        assert market.post(f"/lab/orders/{older}/{step}", market.food_lab).status_code == 200
    # a click that loads the next page leaves the old elements behind: keep looking until the new one shows
    wait = WebDriverWait(browser, 10, ignored_exceptions=(StaleElementReferenceException,))

    def status_text() -> str:
        return browser.find_element(By.ID, "order-status").text

    browser_sign_in(browser, served, "lab_staff")
    wait.until(seen.presence_of_element_located((By.ID, "todo-to_accept")))
    assert browser.find_element(By.CSS_SELECTOR, "#todo-to_accept .count").text == "1"
    assert browser.find_element(By.CSS_SELECTOR, "#todo-samples_due .count").text == "1"
    assert "今日待办" in browser.find_element(By.TAG_NAME, "h1").text
    shoot(browser, tmp_path, "workbench_today")

    browser.find_element(By.ID, "todo-to_accept").click()
    wait.until(seen.presence_of_element_located((By.ID, "order-list")))
    assert "待受理" in browser.find_element(By.TAG_NAME, "h1").text
    browser.get(served + "/workbench/orders")
    wait.until(seen.presence_of_element_located((By.ID, "order-list")))
    shoot(browser, tmp_path, "workbench_orders")
    shoot(browser, tmp_path, "workbench_orders_phone", width=390)

    browser.find_element(By.LINK_TEXT, number).click()
    wait.until(seen.presence_of_element_located((By.ID, "btn-accept")))
    assert status_text() == "已付款"
    shoot(browser, tmp_path, "workbench_order_before")

    for button, status in (("btn-accept", "已接单"), ("btn-samples-received", "已收样"), ("btn-start-testing", "检测中")):
        browser.find_element(By.ID, button).click()
        wait.until(lambda b, s=status: status_text() == s)
    assert "已接单 → 已收样" in browser.find_element(By.ID, "timeline").text
    shoot(browser, tmp_path, "workbench_order_testing")

    report = tmp_path / "检测报告.pdf"
    report.write_bytes(b"%PDF-1.4\n" + b"0" * 50_000 + b"\n%%EOF\n")
    browser.find_element(By.ID, "report-file").send_keys(str(report))
    assert "检测报告.pdf" in browser.find_element(By.CSS_SELECTOR, "[data-file-name]").text
    browser.find_element(By.ID, "btn-upload").click()
    wait.until(lambda b: status_text() == "报告已出")
    timeline = browser.find_element(By.ID, "timeline").text
    assert "检测中 → 报告已出" in timeline and "已上传检测报告" in timeline
    assert "报告已上传" in browser.find_element(By.CSS_SELECTOR, ".alert-success").text
    assert "检测报告.pdf" in browser.find_element(By.ID, "report").text
    shoot(browser, tmp_path, "workbench_order_after")
    shoot(browser, tmp_path, "workbench_order_phone", width=390)
    assert market.get(f"/orders/{number}", market.customer).get_json()["status"] == "report_issued"

    # a file that is not a PDF is refused beside the drop zone, before anything is sent
    browser.get(f"{served}/workbench/orders/{older}")
    wait.until(seen.presence_of_element_located((By.ID, "report-file")))
    notes = tmp_path / "notes.txt"
    notes.write_text("不是报告", encoding="utf-8")
    browser.find_element(By.ID, "report-file").send_keys(str(notes))
    browser.find_element(By.ID, "btn-upload").click()
    assert browser.find_element(By.ID, "upload-error").text == "报告须为 PDF 文件。"
    assert status_text() == "检测中"
    shoot(browser, tmp_path, "workbench_order_upload_refused")

    browser.get(served + "/workbench/inbox")
    wait.until(seen.presence_of_element_located((By.ID, "notifications")))
    assert "新的已付款订单" in browser.find_element(By.ID, "notifications").text
    shoot(browser, tmp_path, "workbench_inbox")
    browser.find_element(By.ID, "btn-read-all").click()
    wait.until(lambda b: "0 条未读" in b.find_element(By.ID, "unread-count").text)
