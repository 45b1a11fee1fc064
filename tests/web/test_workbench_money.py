"""财务 as lab staff meet it, with orders placed, paid and settled through the real JSON API: settled
orders per month (chart and table, months in the platform's zone), the voucher part against the cash
part, what the ledger says the platform owes and holds (with names, never account ids), the voucher
redemption statement, and the CSV / XLSX exports read back."""
from __future__ import annotations

import csv
import io
import json
import re
import shutil
import zipfile
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Callable
from zoneinfo import ZoneInfo

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select, update

from core.db import unit_of_work
from core.models import LedgerTransaction, Order
from core.models._types import utcnow
from core.services.orders.money_export import LINE_HEADER, SHEETS
from core.services.people.users import create_staff
from tests.orders.conftest import Market, build_market, pdf_file
from tests.web.conftest import SHOTS, browser_sign_in, sign_in

ZONE = ZoneInfo("Asia/Shanghai")


def chart(html: str, chart_id: str) -> dict[str, Any]:
    found = re.search(rf'<script type="application/json" id="{chart_id}">(.*?)</script>', html, re.S)
    assert found, f"no chart data {chart_id}"
    return json.loads(found.group(1))


def month_of(day: date, back: int = 0) -> tuple[int, int]:
    index = day.year * 12 + day.month - 1 - back
    return index // 12, index % 12 + 1


@pytest.fixture
def books(web_app: Flask) -> dict[str, Any]:
    """Chongqing's food lab: one order with vouchers settled today (¥400: ¥200 voucher + ¥200 cash),
    one cancelled after acceptance (the lab keeps 20 % = ¥80) whose settlement is dated 01:00 local on
    the first of last month (still the month before in UTC), one paid and held in escrow (¥400);
    Chengdu's material lab: one settled order (¥240) that Chongqing must never see."""
    market: Market = build_market(web_app)
    voucher = market.voucher(amount=5000)
    settled = market.order(voucher_id=voucher, expected_total_cny=400)["number"]
    market.pay(settled)
    market.through_report(settled)
    assert market.post(f"/orders/{settled}/confirm", market.customer).get_json()["status"] == "settled"

    cancelled = market.paid_order()
    assert market.post(f"/lab/orders/{cancelled}/accept", market.food_lab).status_code == 200
    assert market.post(f"/orders/{cancelled}/cancel", market.customer, reason="改期").status_code == 200
    held = market.paid_order()

    other = market.paid_order(service_code="T-CD-S001")
    for step in ("accept", "samples-received", "start-testing"):
        assert market.post(f"/lab/orders/{other}/{step}", market.material_lab).status_code == 200
    report = market.client.post(f"/api/v1/lab/orders/{other}/report", headers=market.material_lab,
                                data={"file": (pdf_file(), "report.pdf")}, content_type="multipart/form-data")
    assert report.status_code == 201
    assert market.post(f"/orders/{other}/confirm", market.customer).get_json()["status"] == "settled"
    market.assert_books_balance()

    today = utcnow().astimezone(ZONE).date()
    year, month = month_of(today, 1)
    first_of_last_month = datetime(year, month, 1, 1, 0, tzinfo=ZONE)
    with unit_of_work(web_app.extensions["platform"].session_factory) as session:
        order_id = session.scalar(select(Order.id).where(Order.number == cancelled))
        session.execute(update(LedgerTransaction).where(LedgerTransaction.order_id == order_id,
                                                        LedgerTransaction.kind == "settlement")
                        .values(created_at=first_of_last_month.astimezone(timezone.utc)))
        create_staff(session, "cd-lab", "password-cd-1", "T-CD-MAT")
    return {"settled": settled, "cancelled": cancelled, "held": held, "other": other, "today": today,
            "this_month": f"{today:%Y-%m}", "last_month": f"{year:04d}-{month:02d}",
            "month_before": "%04d-%02d" % month_of(today, 2)}


def test_settled_orders_per_month_and_the_voucher_part_against_the_cash_part(
        books: dict[str, Any], client_as: Callable[[str], FlaskClient]) -> None:
    html = client_as("lab_staff").get("/workbench/money").get_data(as_text=True)
    assert "财务" in html and "重庆某食品检验研究院" in html
    settled = chart(html, "settled-option")
    months = settled["xAxis"]["data"]
    assert len(months) == 12 and months[-1] == books["this_month"]
    series = {s["name"]: s["data"] for s in settled["series"]}
    assert set(series) == set(settled["legend"]["data"]) == {"结算笔数", "结算金额（元）"}
    this, last, before = (months.index(books[k]) for k in ("this_month", "last_month", "month_before"))
    assert series["结算笔数"][this] == 1 and series["结算金额（元）"][this] == 400.0
    # 01:00 on the first, Shanghai time, is the month before in UTC: it counts in the local month
    assert series["结算笔数"][last] == 1 and series["结算金额（元）"][last] == 80.0
    assert series["结算笔数"][before] == 0 and sum(series["结算笔数"]) == 2  # Chengdu's order is not ours

    split = {s["name"]: s for s in chart(html, "split-option")["series"]}
    assert split["创新券部分（元）"]["stack"] == split["现金部分（元）"]["stack"]
    assert split["创新券部分（元）"]["data"][this] == 200.0 and split["现金部分（元）"]["data"][this] == 200.0
    assert split["创新券部分（元）"]["data"][last] == 0.0 and split["现金部分（元）"]["data"][last] == 80.0

    table = html[html.index('id="months"'):html.index("</table>", html.index('id="months"'))]
    row = table[table.index(f">{books['this_month']}<"):]
    assert re.findall(r"<td>([^<]+)</td>", row[:row.index("</tr>")]) == ["1", "¥400.00", "¥200.00", "¥200.00"]
    assert "¥480.00" in table[table.index("合计"):]
    records = html[html.index('id="settlements"'):]
    assert f'href="/workbench/orders/{books["settled"]}"' in records and "已结算" in records and "已取消" in records
    assert books["other"] not in html


def test_what_the_platform_owes_and_holds_is_named_not_numbered(
        books: dict[str, Any], client_as: Callable[[str], FlaskClient]) -> None:
    html = client_as("institution_admin").get("/workbench/money").get_data(as_text=True)
    owed = html[html.index('id="owed"'):html.index('id="statement"')]
    assert "重庆某食品检验研究院（T-CQ-FOOD）结算账户" in owed
    assert "¥480.00" in owed and "¥200.00" in owed  # 400 + 80 credited, 200 of it by vouchers
    held = owed[owed.index(books["held"]):]
    assert "已付款" in held and "¥400.00" in held[:held.index("</tr>")]
    assert books["settled"] not in owed  # a settled order holds nothing any more
    assert "lab:" not in html and "escrow:" not in html
    assert re.search(r'id="stat-held">.*?¥400\.00', html, re.S)


def test_the_redemption_statement_is_the_funds_figure_with_its_orders(
        books: dict[str, Any], client_as: Callable[[str], FlaskClient]) -> None:
    # since yesterday: the fund's statement counts UTC days, which before 08:00 here are still yesterday
    today, yesterday = books["today"].isoformat(), (books["today"] - timedelta(days=1)).isoformat()
    html = client_as("lab_staff").get(f"/workbench/money?from={yesterday}&to={today}").get_data(as_text=True)
    statement = html[html.index('id="statement"'):]
    assert re.search(r'id="statement-total">¥200\.00<', statement) and "共 1 笔订单" in statement
    assert books["settled"] in statement and "张三食品有限公司" in statement
    # the cancelled order's settlement was last month: not in today's period
    assert books["cancelled"] not in html[html.index('id="settlements"'):]
    for bad in ("from=2025-02-30", f"from={today}&to=2020-01-01"):
        refused = client_as("lab_staff").get(f"/workbench/money?{bad}")
        assert refused.status_code == 400 and "日期" in refused.get_data(as_text=True)


def test_the_csv_export_opens_in_excel_with_chinese_and_the_periods_lines(
        books: dict[str, Any], client_as: Callable[[str], FlaskClient]) -> None:
    response = client_as("lab_staff").get("/workbench/money/export.csv")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"] and ".csv" in response.headers["Content-Disposition"]
    assert response.data.startswith(b"\xef\xbb\xbf")  # the BOM that makes Excel read UTF-8
    rows = list(csv.reader(io.StringIO(response.data.decode("utf-8-sig"))))
    assert rows[0] == LINE_HEADER
    lines = {row[1]: row for row in rows[1:-1]}
    assert set(lines) == {books["settled"], books["cancelled"]}
    assert lines[books["settled"]][4:] == ["已结算", "400.00", "400.00", "200.00", "200.00"]
    assert lines[books["cancelled"]][4:] == ["已取消", "400.00", "80.00", "0.00", "80.00"]
    assert lines[books["cancelled"]][0].endswith(" 01:00")  # local time, as on the page
    assert rows[-1][0] == "合计" and rows[-1][6:] == ["480.00", "200.00", "280.00"]


def test_the_xlsx_export_has_its_sheets_headers_money_and_dates(
        books: dict[str, Any], client_as: Callable[[str], FlaskClient]) -> None:
    today, yesterday = books["today"].isoformat(), (books["today"] - timedelta(days=1)).isoformat()
    response = client_as("lab_staff").get(f"/workbench/money/export.xlsx?from={yesterday}&to={today}")
    assert response.status_code == 200 and response.mimetype.endswith("spreadsheetml.sheet")
    assert f"{yesterday}-{today}.xlsx" in response.headers["Content-Disposition"]
    book = zipfile.ZipFile(io.BytesIO(response.data))
    assert book.testzip() is None
    workbook = book.read("xl/workbook.xml").decode()
    assert re.findall(r'<sheet name="([^"]+)"', workbook) == list(SHEETS)
    strings = re.findall(r"<t[^>]*>([^<]*)</t>", book.read("xl/sharedStrings.xml").decode())
    assert "结算时间" in strings and "订单号" in strings and books["settled"] in strings and "已结算" in strings
    assert books["other"] not in strings and books["cancelled"] not in strings  # other lab; other period
    styles = book.read("xl/styles.xml").decode()
    assert 'formatCode="¥#,##0.00"' in styles and 'formatCode="yyyy-mm-dd hh:mm"' in styles
    details = book.read("xl/worksheets/sheet2.xml").decode()
    # row 2: a date serial (a number, not text) in A, the order number in B, the amounts as numbers
    row = re.search(r'<row r="2".*?</row>', details, re.S).group(0)
    serial = float(re.search(r'<c r="A2" s="\d+"><v>([\d.]+)</v>', row).group(1))
    assert date(1899, 12, 30) + timedelta(days=int(serial)) == books["today"]
    assert re.findall(r'<c r="[F-I]2" s="\d+"><v>([\d.]+)</v>', row) == ["400", "400", "200", "200"]
    redemptions = book.read("xl/worksheets/sheet3.xml").decode()
    assert re.search(r'<c r="E3" s="\d+"><v>200</v>', redemptions)  # 对账单合计, the fund's figure


def test_who_may_see_the_money(books: dict[str, Any], web_app: Flask, client_as: Callable[[str], FlaskClient]) -> None:
    for path in ("/workbench/money", "/workbench/money/export.csv", "/workbench/money/export.xlsx"):
        anonymous = web_app.test_client().get(path)
        assert anonymous.status_code == 302 and "/login?next=" in anonymous.headers["Location"]
        assert client_as("platform_admin").get(path).status_code == 403
    # Chengdu's staff see Chengdu's money only
    chengdu = sign_in(web_app.test_client(), "cd-lab", "password-cd-1")
    html = chengdu.get("/workbench/money").get_data(as_text=True)
    assert "成都某材料检测中心" in html and books["other"] in html and "¥240.00" in html
    assert books["settled"] not in html and books["held"] not in html
    rows = list(csv.reader(io.StringIO(chengdu.get("/workbench/money/export.csv").data.decode("utf-8-sig"))))
    assert [row[1] for row in rows[1:-1]] == [books["other"]]


def test_staff_see_the_money_page_in_a_browser(books: dict[str, Any], served: str, browser,  # type: ignore[no-untyped-def]
                                               tmp_path: Path) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ready
    from selenium.webdriver.support.ui import WebDriverWait

    browser_sign_in(browser, served, "lab_staff")
    WebDriverWait(browser, 10).until(ready.url_contains("/workbench/today"))
    browser.get(served + "/workbench/money")
    for chart_id in ("chart-settled", "chart-split"):
        WebDriverWait(browser, 10).until(lambda b, c=chart_id: b.find_elements(By.CSS_SELECTOR, f"#{c} canvas"))
    drawn = browser.execute_script(
        "return window.echarts.getInstanceByDom(document.getElementById('chart-split'))"
        ".getOption().series.map(function (s) { return s.data.reduce(function (a, b) { return a + b; }, 0); })")
    assert drawn == [200, 280]
    assert "¥480.00" in browser.find_element(By.ID, "stat-owed").text
    for _ in range(2):  # the whole page: a wider window reflows it, so measure again after resizing
        browser.set_window_size(1280, browser.execute_script("return document.documentElement.scrollHeight") + 200)
    browser.save_screenshot(str(tmp_path / "money.png"))
    # on a phone the cards stack and the tables scroll sideways inside their card
    browser.set_window_size(390, 844)
    for _ in range(2):
        browser.set_window_size(390, browser.execute_script("return document.documentElement.scrollHeight") + 200)
    assert browser.execute_script("return document.documentElement.scrollWidth") <= 390
    browser.save_screenshot(str(tmp_path / "money-phone.png"))
    SHOTS.mkdir(parents=True, exist_ok=True)
    for name in ("money", "money-phone"):
        shutil.copy(tmp_path / f"{name}.png", SHOTS / f"{name}.png")
