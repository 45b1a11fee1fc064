"""The idle report in the back office: a platform admin generates a period in the console and sees
its charts and flags; the institution's admin sees only its own instruments in the workbench and
reports hours for a month its sensor missed; the files download; every route checks its role."""
from __future__ import annotations

from pathlib import Path
from typing import Callable

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from core.models import SelfReportedHours
from tests.manage.test_idle_report import hand_made
from tests.web.conftest import browser_sign_in, needs_browser, post_form, shoot, shown


def generate(client: FlaskClient, start: str = "2026-01", end: str = "2026-02") -> str:
    done = post_form(client, "/console/idle-reports", {"from": start, "to": end}, follow_redirects=True)
    assert done.status_code == 200
    return done.get_data(as_text=True)


def test_an_admin_generates_a_period_and_an_institution_sees_its_part(web_app: Flask,
                                                                        client_as: Callable[[str], FlaskClient]) -> None:
    hand_made(web_app)
    admin = client_as("platform_admin")
    empty = admin.get("/console/idle-reports").get_data(as_text=True)
    assert "暂无通报" in empty and 'value="20' in empty  # the form proposes the last even-ended pair of months

    html = generate(admin)
    assert "已生成 2026-01 至 2026-02 闲置仪器通报（第 1 版）：2 台闲置" in html
    assert 'id="idle-count">2<' in html and "各城市闲置仪器原值" in html and 'data-chart="cities-option"' in html
    assert "零机时" in html and "启用逾一年从未使用" in html and "自报" in html
    assert "已通知" in html
    again = generate(admin)
    assert "第 2 版" in again and again.count("第 1 版") >= 1  # the first stays listed

    refused = post_form(admin, "/console/idle-reports", {"from": "2026-05", "to": "2026-04"},
                        page="/console/idle-reports", follow_redirects=True).get_data(as_text=True)
    assert "起始月份不能晚于结束月份" in refused

    # the demo lab's institution (T-CQ-FOOD) sees its two instruments, not Hangzhou's
    lab = client_as("institution_admin")
    own = lab.get("/workbench/idle-reports").get_data(as_text=True)
    assert "T-CQ-FOOD-0002" in own and "T-HZ-ATC-0002" not in own and "全平台闲置" in own
    sent = post_form(lab, "/workbench/idle-reports/hours", {"instrument": "T-CQ-FOOD-0001", "month": "2026-02",
                                                           "hours": "12.5", "note": "传感器检修"},
                     page="/workbench/idle-reports", follow_redirects=True).get_data(as_text=True)
    assert "已记录 T-CQ-FOOD-0001 2026-02 的自报机时 12.5 小时" in sent and "传感器检修" in sent
    for bad, why in (({"hours": "nan"}, "机时须为"), ({"hours": "800"}, "机时须为"), ({"month": "2099-01"}, "尚未结束"),
                     ({"instrument": "T-HZ-ATC-0002"}, "没有仪器")):
        form = {"instrument": "T-CQ-FOOD-0001", "month": "2026-01", "hours": "3", **bad}
        answer = post_form(lab, "/workbench/idle-reports/hours", form, page="/workbench/idle-reports",
                           follow_redirects=True).get_data(as_text=True)
        assert why in answer, bad
    with web_app.extensions["platform"].transaction(write=False) as session:
        assert [r.hours for r in session.scalars(select(SelfReportedHours))] == [100, 50, 12.5]

    staff = client_as("lab_staff")
    assert "自报机时" in staff.get("/workbench/idle-reports").get_data(as_text=True)
    assert post_form(staff, "/workbench/idle-reports/hours", {"instrument": "T-CQ-FOOD-0001", "month": "2026-01",
                                                            "hours": "1"}, page="/workbench/idle-reports").status_code == 403
    assert staff.get("/console/idle-reports").status_code == 403
    xlsx = staff.get("/workbench/idle-reports/1.xlsx")
    assert xlsx.status_code == 200 and xlsx.data[:2] == b"PK"
    assert admin.get("/console/idle-reports/2.pdf").data[:5] == b"%PDF-"
    assert admin.get("/console/idle-reports/99.pdf").status_code == 404
    assert client_as("anonymous").get("/console/idle-reports").status_code == 302


@needs_browser
def test_the_report_page_draws_its_charts(web_app: Flask, served: str, browser, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from selenium.webdriver.support.ui import WebDriverWait

    hand_made(web_app)
    browser_sign_in(browser, served, "platform_admin")
    browser.get(served + "/console/idle-reports")
    browser.execute_script("document.getElementById('from').value = '2026-01'; document.getElementById('to').value = '2026-02'")
    browser.find_element("css selector", "#generate-form button[type=submit]").click()
    shown(browser, "#idle-table")
    WebDriverWait(browser, 20).until(lambda b: b.execute_script(
        "return [...document.querySelectorAll('[data-chart]')].every(el => el.dataset.drawn === '1')"))
    cities = browser.execute_script(
        "return echarts.getInstanceByDom(document.getElementById('chart-cities')).getOption().series[0].data")
    assert cities == [80, 40]  # 重庆 80 万 (the special-purpose instrument), 杭州 40 万 (the XRD)
    shoot(browser, tmp_path, "idle-report")
    shoot(browser, tmp_path, "idle-report-phone", width=390)
