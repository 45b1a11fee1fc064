"""仪器日历 as lab staff meet it: the week and the day with opening hours, bookings (number, customer,
state) and blackouts; one weekday's hours changed at a time; a blackout or hours change that strands a
booking refused naming the order, then made on confirmation with the customer told; the private ICS
feed; and a new slot proposed on the page that the customer accepts in the mini-program API."""
from __future__ import annotations

import re
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Callable

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from core.db import unit_of_work
from core.models import Blackout, Instrument, OrderEvent, Role
from core.services.orders.slot_proposals import describe
from core.services.orders.slots import weekly_hours
from core.services.people.users import create_admin
from tests.orders.conftest import SHANGHAI, Market, build_market, next_weekday_at
from tests.web.conftest import browser_sign_in, csrf_of, post_form, shoot, shown, sign_in

HPLC = "T-CQ-FOOD-0001"
CAL = f"/workbench/instruments/{HPLC}/calendar"


@pytest.fixture
def app(app_factory: Callable[..., Flask], tmp_path: Path) -> Flask:
    # the market's API sign-ins and the pages' sign-ins all come from 127.0.0.1
    return app_factory(tmp_path, RATE_LIMIT_LOGIN_PER_IP="100000")


@pytest.fixture
def market(web_app: Flask) -> Market:
    return build_market(web_app)


def book(market: Market, start: datetime, accept: bool = True) -> str:
    """A paid one-hour visit on the HPLC at `start`, accepted by the lab through the API."""
    number = market.paid_order(service_code="T-CQ-S001", mode="visit", samples=1, slot_start=start.isoformat())
    if accept:
        assert market.post(f"/lab/orders/{number}/accept", market.food_lab).status_code == 200
    return number


def week_of(moment: datetime) -> str:
    return f"{CAL}?view=week&day={moment.astimezone(SHANGHAI).date().isoformat()}"


def cell_text(html: str, number: str) -> str:
    found = re.search(rf'<a class="cal-booking[^"]*" href="/workbench/orders/{number}"[^>]*>(.*?)</a>', html, re.S)
    assert found, f"order {number} is not on the calendar"
    return re.sub(r"\s+", " ", found.group(1))


def test_the_week_shows_hours_bookings_and_blackouts_in_local_time(market: Market,
                                                                   client_as: Callable[[str], FlaskClient]) -> None:
    start = next_weekday_at(10)
    number = book(market, start)
    client = client_as("lab_staff")
    html = client.get(week_of(start)).get_data(as_text=True)
    assert "日历" in html and "高效液相色谱仪" in html and f'href="/workbench/instruments/{HPLC}"' in html
    for name in ("周一", "周二", "周三", "周四", "周五", "周六", "周日"):
        assert name in html
    text = cell_text(html, number)
    assert "10:00–11:00" in text and "张三食品有限公司" in text and "已接单" in text  # Shanghai time, not UTC
    assert html.count('class="cal-open"') > 0 and 'class="cal-closed"' in html  # weekends closed by default
    assert "上一周" in html and "下一周" in html and 'id="cal-today"' in html
    # the day view of the same day, with the booking listed in full
    day = client.get(f"{CAL}?view=day&day={start.astimezone(SHANGHAI).date()}").get_data(as_text=True)
    assert "当天安排" in day and number in day and "食品中苏丹红I-IV号的测定" in day and "前一天" in day
    # a day with nothing on it says so
    empty = client.get(f"{CAL}?view=day&day={(start + timedelta(days=60)).astimezone(SHANGHAI).date()}")
    assert "当天没有预约和停机" in empty.get_data(as_text=True)
    for odd in ("0001-01-01", "9999-12-31", "not-a-day"):  # shown as today, never an error
        assert client.get(f"{CAL}?view=week&day={odd}").status_code == 200


def test_who_may_see_the_calendar(web_app: Flask, client_as: Callable[[str], FlaskClient]) -> None:
    anonymous = web_app.test_client().get(CAL)
    assert anonymous.status_code == 302 and "/login" in anonymous.headers["Location"]
    assert client_as("platform_admin").get(CAL).status_code == 403
    with unit_of_work(web_app.extensions["platform"].session_factory) as session:
        create_admin(session, "qiye", "qiye-password-2026", "某企业").role = Role.enterprise
    assert sign_in(web_app.test_client(), "qiye", "qiye-password-2026").get(CAL).status_code == 403
    # another institution's instrument is as missing as an unknown one
    staff = client_as("lab_staff")
    other = staff.get("/workbench/instruments/T-HZ-ATC-0001/calendar")
    assert other.status_code == 404 and "页面不存在" in other.get_data(as_text=True)
    assert staff.get("/workbench/instruments/NO-SUCH/calendar").status_code == 404
    assert post_form(staff, "/workbench/instruments/T-HZ-ATC-0001/calendar/blackouts", {
        "starts_at": "2030-01-07T09:00", "ends_at": "2030-01-07T10:00"}, page=CAL).status_code == 404
    assert post_form(staff, f"{CAL}/proposals", {"order": "O-NOT-OURS", "start": "2030-01-07T10:00:00+08:00"},
                     page=CAL).status_code == 404
    assert client_as("institution_admin").get(CAL).status_code == 200


def _hours(web_app: Flask) -> dict[int, list[str]]:
    platform = web_app.extensions["platform"]
    with unit_of_work(platform.session_factory, write=False) as session:
        instrument = session.scalar(select(Instrument).where(Instrument.code == HPLC))
        week = weekly_hours(session, instrument.id, platform.settings.orders)
    return {d: [f"{o:%H:%M}-{c:%H:%M}" for o, c in week.get(d, [])] for d in range(7)}


def test_editing_one_day_changes_only_that_day(web_app: Flask, client_as: Callable[[str], FlaskClient]) -> None:
    staff = client_as("lab_staff")
    saved = post_form(staff, f"{CAL}/hours/1", {"hours": "08:30-12:00，13:00-18:00"}, page=CAL)
    assert saved.status_code == 302
    assert "已更新周二的开放时间" in staff.get(saved.headers["Location"]).get_data(as_text=True)
    assert _hours(web_app) == {0: ["09:00-17:00"], 1: ["08:30-12:00", "13:00-18:00"], 2: ["09:00-17:00"],
                               3: ["09:00-17:00"], 4: ["09:00-17:00"], 5: [], 6: []}
    assert post_form(staff, f"{CAL}/hours/5", {"closed": "", "hours": "09:00-12:00"}, page=CAL).status_code == 302
    assert post_form(staff, f"{CAL}/hours/0", {"closed": "1"}, page=CAL).status_code == 302
    hours = _hours(web_app)
    assert hours[5] == ["09:00-12:00"] and hours[0] == [] and hours[1] == ["08:30-12:00", "13:00-18:00"]
    html = staff.get(CAL).get_data(as_text=True)
    assert 'value="08:30-12:00, 13:00-18:00"' in html


@pytest.mark.parametrize("typed, message", [
    ("9点到5点", "格式应为 09:00-12:00"), ("17:00-09:00", "须早于结束时间"),
    ("09:00-12:00, 11:00-13:00", "重叠"), ("", "请填写开放时段"), ("25:00-26:00", "00:00 到 23:59"),
])
def test_bad_hours_are_refused_next_to_the_field_keeping_what_was_typed(
        web_app: Flask, client_as: Callable[[str], FlaskClient], typed: str, message: str) -> None:
    response = post_form(client_as("lab_staff"), f"{CAL}/hours/2", {"hours": typed}, page=CAL)
    html = response.get_data(as_text=True)
    assert response.status_code == 400 and message in html and "Traceback" not in html
    form = html[html.index('id="hours-2"'):html.index('id="hours-3"')]
    assert f'value="{typed}"' in form and 'id="error-hours"' in form
    assert _hours(web_app)[2] == ["09:00-17:00"]


def _inbox(market: Market) -> list[dict[str, Any]]:
    return market.get("/me/notifications", market.customer).get_json()["items"]


def test_a_blackout_that_strands_a_booking_is_refused_then_made_on_confirmation(
        web_app: Flask, market: Market, client_as: Callable[[str], FlaskClient]) -> None:
    start = next_weekday_at(10)
    number = book(market, start)
    staff = client_as("lab_staff")
    local = start.astimezone(SHANGHAI)
    typed = {"starts_at": local.strftime("%Y-%m-%dT09:00"), "ends_at": local.strftime("%Y-%m-%dT12:00"),
             "reason": "液相色谱柱更换"}
    refused = post_form(staff, f"{CAL}/blackouts", typed, page=week_of(start))
    html = refused.get_data(as_text=True)
    assert refused.status_code == 409 and number in html and "时段不再可用" in html
    assert "仍然修改并通知客户" in html and 'value="液相色谱柱更换"' in html
    assert "confirm" not in html.split('id="blackout-form"')[1].split("</form>")[0]  # the plain form stays plain
    assert not [n for n in _inbox(market) if n["kind"] == "booking_affected"]

    confirmed = staff.post(f"{CAL}/blackouts", data={**typed, "confirm": "1", "csrf_token": csrf_of(html)})
    assert confirmed.status_code == 302
    page = staff.get(confirmed.headers["Location"]).get_data(as_text=True)
    assert "已通知 1 位客户" in page and "停机：液相色谱柱更换" in page
    notes = [n for n in _inbox(market) if n["kind"] == "booking_affected"]
    assert len(notes) == 1 and number in notes[0]["body"] and "液相色谱柱更换" in notes[0]["body"]
    # the confirmation sent twice (a double click, a reload) blocks the period once
    again = staff.post(f"{CAL}/blackouts", data={**typed, "confirm": "1", "csrf_token": csrf_of(html)})
    assert "已经添加过" in staff.get(again.headers["Location"]).get_data(as_text=True)
    with unit_of_work(web_app.extensions["platform"].session_factory, write=False) as session:
        assert session.scalar(select(func.count(Blackout.id))) == 1


def test_a_blackout_with_bad_times_keeps_the_input_and_says_why(client_as: Callable[[str], FlaskClient]) -> None:
    staff = client_as("lab_staff")
    missing = post_form(staff, f"{CAL}/blackouts", {"starts_at": "", "ends_at": "2030-01-07T10:00", "reason": "保养"},
                        page=CAL)
    html = missing.get_data(as_text=True)
    assert missing.status_code == 400 and "请填写开始时间" in html and 'value="2030-01-07T10:00"' in html
    backwards = post_form(staff, f"{CAL}/blackouts", {"starts_at": "2030-01-07T10:00", "ends_at": "2030-01-07T09:00"},
                          page=CAL)
    assert backwards.status_code == 400 and "结束须晚于开始" in backwards.get_data(as_text=True)
    # a free period is added at once, and shown on its week
    made = post_form(staff, f"{CAL}/blackouts", {"starts_at": "2030-01-07T09:00", "ends_at": "2030-01-07T11:30",
                                                 "reason": "年度保养"}, page=CAL)
    assert made.status_code == 302 and "day=2030-01-07" in made.headers["Location"]
    week = staff.get(made.headers["Location"]).get_data(as_text=True)
    assert "停机：年度保养" in week and "01-07 09:00–11:30" in week and "cal-blackout" in week


def test_closing_a_day_with_a_booking_asks_first_then_tells_the_customer(
        web_app: Flask, market: Market, client_as: Callable[[str], FlaskClient]) -> None:
    start = next_weekday_at(15)
    number = book(market, start)
    weekday = start.astimezone(SHANGHAI).weekday()
    staff = client_as("lab_staff")
    refused = post_form(staff, f"{CAL}/hours/{weekday}", {"hours": "09:00-12:00"}, page=CAL)
    html = refused.get_data(as_text=True)
    assert refused.status_code == 409 and number in html and "仍然修改并通知客户" in html
    assert _hours(web_app)[weekday] == ["09:00-17:00"]
    done = staff.post(f"{CAL}/hours/{weekday}", data={"hours": "09:00-12:00", "confirm": "1",
                                                      "csrf_token": csrf_of(html)})
    assert done.status_code == 302 and _hours(web_app)[weekday] == ["09:00-12:00"]
    assert "已通知 1 位客户" in staff.get(done.headers["Location"]).get_data(as_text=True)
    assert any(n["kind"] == "booking_affected" and number in n["body"] for n in _inbox(market))


def test_the_private_feed_is_created_rotated_and_revoked(web_app: Flask, client_as: Callable[[str], FlaskClient]) -> None:
    staff = client_as("lab_staff")
    assert "生成订阅地址" in staff.get(CAL).get_data(as_text=True)
    post_form(staff, f"{CAL}/feed", page=CAL)
    html = staff.get(CAL).get_data(as_text=True)
    first = re.search(r'id="feed-url" value="([^"]+)"', html).group(1)  # type: ignore[union-attr]
    assert "/api/v1/lab/calendar/" in first and "手机日历" in html and "已生成日历订阅地址" in html
    path = first.split("127.0.0.1:8000", 1)[1]
    ics = web_app.test_client().get(path)
    assert ics.status_code == 200 and ics.mimetype == "text/calendar"
    post_form(staff, f"{CAL}/feed", page=CAL)
    second = re.search(r'id="feed-url" value="([^"]+)"', staff.get(CAL).get_data(as_text=True)).group(1)  # type: ignore[union-attr]
    assert second != first and web_app.test_client().get(path).status_code == 404
    post_form(staff, f"{CAL}/feed/revoke", page=CAL)
    html = staff.get(CAL).get_data(as_text=True)
    assert "停用日历订阅" in html and 'id="feed-url"' not in html
    assert web_app.test_client().get(second.split("127.0.0.1:8000", 1)[1]).status_code == 404


def test_staff_propose_a_new_slot_and_the_customer_accepts_it_in_the_api(
        web_app: Flask, market: Market, client_as: Callable[[str], FlaskClient]) -> None:
    start = next_weekday_at(10)
    number = book(market, start)
    new_day = start.astimezone(SHANGHAI).date()
    staff = client_as("lab_staff")
    search = f"{week_of(start)}&propose_order={number}&propose_day={new_day}"
    html = staff.get(search).get_data(as_text=True)
    options = re.findall(r'<option value="([^"]+\+08:00)">(\d\d:\d\d)</option>', html)
    labels = [label for _, label in options]
    assert "10:00" not in labels and "10:30" in labels and "14:00" in labels  # its own slot is not offered again
    new_start = dict((label, value) for value, label in options)["14:00"]
    sent = post_form(staff, f"{CAL}/proposals", {"order": number, "start": new_start, "note": "上午需校准",
                                                 "day": str(new_day), "propose_day": str(new_day)}, page=search)
    assert sent.status_code == 302
    page = staff.get(sent.headers["Location"]).get_data(as_text=True)
    assert "等待客户在小程序中确认" in page and "待客户确认" in page
    # the same proposal sent twice is one proposal, one notification
    post_form(staff, f"{CAL}/proposals", {"order": number, "start": new_start}, page=search)
    notes = [n for n in _inbox(market) if n["kind"] == "slot_proposal"]
    assert len(notes) == 1 and "14:00" in notes[0]["body"] and "上午需校准" in notes[0]["body"]

    shown = market.get(f"/orders/{number}/slot-proposal", market.customer).get_json()["proposal"]
    assert shown["state"] == "pending" and shown["start"].endswith("14:00:00+08:00")
    assert shown["previous_start"].endswith("10:00:00+08:00")
    accepted = market.post(f"/orders/{number}/slot-proposal/accept", market.customer)
    assert accepted.status_code == 200
    body = accepted.get_json()
    assert body["proposal"]["state"] == "accepted" and body["order"]["status"] == "accepted"
    assert datetime.fromisoformat(body["order"]["slot_start"]).astimezone(SHANGHAI).hour == 14
    again = market.post(f"/orders/{number}/slot-proposal/accept", market.customer)
    assert again.status_code == 200 and again.get_json()["proposal"]["id"] == body["proposal"]["id"]
    late = market.post(f"/orders/{number}/slot-proposal/decline", market.customer)
    assert late.status_code == 409 and "已接受" in late.get_json()["error"]["message"]
    with unit_of_work(web_app.extensions["platform"].session_factory, write=False) as session:
        assert session.scalar(select(func.count(OrderEvent.id)).where(OrderEvent.reason.contains("slot_proposal:"))) == 2
    trail = [e["reason"] or "" for e in market.get(f"/orders/{number}", market.customer).get_json()["events"]]
    assert any(r.startswith("实验室提议改约：") and "→" in r for r in trail)
    assert any(r.startswith("客户接受改约，预约改到") for r in trail)
    assert describe(trail[-1]) == trail[-1].split(" slot_proposal:")[0]

    # the calendar shows the booking at its new time, and the old hour is free for others
    week = staff.get(week_of(start)).get_data(as_text=True)
    assert "14:00–15:00" in cell_text(week, number) and "客户已接受" in week
    assert market.post("/orders", market.customer, service_code="T-CQ-S001", samples=1, mode="visit",
                       sample_description="辣椒粉", slot_start=start.isoformat()).status_code == 201
    lab_notes = market.get("/me/notifications", market.food_lab).get_json()["items"]
    assert any(n["kind"] == "slot_proposal_accepted" for n in lab_notes)


def test_a_declined_proposal_moves_nothing_and_tells_the_lab(
        market: Market, client_as: Callable[[str], FlaskClient]) -> None:
    start = next_weekday_at(11)
    number = book(market, start, accept=False)  # a paid order can be moved too
    staff = client_as("lab_staff")
    day = start.astimezone(SHANGHAI).date()
    new_start = datetime.combine(day, datetime.min.time(), SHANGHAI).replace(hour=15).isoformat()
    assert post_form(staff, f"{CAL}/proposals", {"order": number, "start": new_start}, page=CAL).status_code == 302
    # only the order's customer answers: the lab and other customers cannot
    assert market.post(f"/orders/{number}/slot-proposal/accept", market.food_lab).status_code == 403
    stranger = market.sign_in(name="李四", company="91330106MA2GL1AE5H")
    assert market.post(f"/orders/{number}/slot-proposal/accept", stranger).status_code == 404
    declined = market.post(f"/orders/{number}/slot-proposal/decline", market.customer, reason="上午更方便")
    assert declined.status_code == 200 and declined.get_json()["proposal"]["state"] == "declined"
    assert market.post(f"/orders/{number}/slot-proposal/decline", market.customer).status_code == 200
    refused = market.post(f"/orders/{number}/slot-proposal/accept", market.customer)
    assert refused.status_code == 409 and "已拒绝" in refused.get_json()["error"]["message"]
    order = market.get(f"/orders/{number}", market.customer).get_json()
    assert datetime.fromisoformat(order["slot_start"]).astimezone(SHANGHAI).hour == 11
    assert any(n["kind"] == "slot_proposal_declined" and "上午更方便" in n["body"]
               for n in market.get("/me/notifications", market.food_lab).get_json()["items"])
    assert "客户已拒绝" in staff.get(CAL).get_data(as_text=True)
    # a slot taken by someone else, or outside the hours, is refused on the page in Chinese
    other = book(market, next_weekday_at(16, 8))
    taken = datetime.fromisoformat(market.get(f"/orders/{other}", market.customer).get_json()["slot_start"])
    answer = post_form(staff, f"{CAL}/proposals", {"order": number, "start": taken.isoformat()}, page=CAL)
    assert "已被其他订单预约" in staff.get(answer.headers["Location"]).get_data(as_text=True)
    night = post_form(staff, f"{CAL}/proposals", {"order": number, "start": new_start.replace("T15", "T20")}, page=CAL)
    assert "不在仪器的开放时间内" in staff.get(night.headers["Location"]).get_data(as_text=True)


def test_an_order_without_a_proposal_says_so(market: Market) -> None:
    number = market.paid_order()
    assert market.get(f"/orders/{number}/slot-proposal", market.customer).get_json() == {
        "order_number": number, "proposal": None}
    missing = market.post(f"/orders/{number}/slot-proposal/accept", market.customer)
    assert missing.status_code == 404 and "没有改约提议" in missing.get_json()["error"]["message"]


def click(browser: Any, element: Any) -> None:
    # Bootstrap scrolls smoothly: jump instead, so the click lands where the button is
    browser.execute_script("arguments[0].scrollIntoView({block: 'center', behavior: 'instant'})", element)
    element.click()




def test_in_a_browser_staff_block_a_booked_morning_after_confirming(
        web_app: Flask, market: Market, served: str, browser: Any, tmp_path: Path) -> None:
    from selenium.webdriver.common.by import By

    start = next_weekday_at(10)
    number = book(market, start)
    book(market, next_weekday_at(14) + timedelta(days=1))
    browser_sign_in(browser, served, "lab_staff")
    browser.get(served + week_of(start))
    assert number in browser.find_element(By.ID, "calendar").text
    shoot(browser, tmp_path, "calendar-week")

    local = start.astimezone(SHANGHAI)
    for field, value in (("starts_at", local.strftime("%Y-%m-%dT09:30")), ("ends_at", local.strftime("%Y-%m-%dT11:30"))):
        # typing into datetime-local depends on the browser's locale; set the value as a picker would
        browser.execute_script("arguments[0].value = arguments[1]", browser.find_element(By.ID, field), value)
    browser.find_element(By.ID, "reason").send_keys("液相色谱柱更换")
    click(browser, browser.find_element(By.ID, "add-blackout"))
    warning = shown(browser, ".conflict-box")
    assert number in warning.text and "时段不再可用" in warning.text
    browser.execute_script("arguments[0].scrollIntoView({block: 'center', behavior: 'instant'})", warning)
    shoot(browser, tmp_path, "calendar-conflict")
    click(browser, browser.find_element(By.ID, "confirm-change"))
    assert "已通知 1 位客户" in shown(browser, ".alert-success").text
    assert "停机：液相色谱柱更换" in browser.find_element(By.ID, "calendar").text
    shoot(browser, tmp_path, "calendar-week-blackout")

    click(browser, browser.find_element(By.ID, "view-day"))
    assert "当天安排" in shown(browser, "#day-agenda").text and "液相色谱柱更换" in browser.page_source
    shoot(browser, tmp_path, "calendar-day")
    other = book(market, next_weekday_at(11, 9))
    browser.get(served + f"{week_of(start)}&propose_order={other}&propose_day={local.date()}#propose")
    assert "发送改约提议" in shown(browser, "#propose-form").text
    browser.execute_script("document.getElementById('propose').scrollIntoView({behavior: 'instant'})")
    shoot(browser, tmp_path, "calendar-propose")

    browser.set_window_size(390, 844)  # a phone: the day fits, the week scrolls sideways
    browser.get(served + week_of(start).replace("view=week", "view=day"))
    shoot(browser, tmp_path, "calendar-day-phone")
    browser.get(served + week_of(start))
    shoot(browser, tmp_path, "calendar-week-phone")
