"""Lab staff edit an instrument's calendar: one weekday at a time, never stranding a booked
customer without saying so, and publish a private ICS feed of the bookings."""
from __future__ import annotations

import re
from datetime import date, datetime, timedelta, timezone
from typing import Any

import pytest
from icalendar import Calendar
from sqlalchemy import update

from core.models import Order
from tests.orders.conftest import SHANGHAI, Market, market, market_factory, next_weekday_at  # noqa: F401

HPLC = "/api/v1/lab/instruments/T-CQ-FOOD-0001"
CJK = re.compile(r"[\u4e00-\u9fff]")
DEFAULT_WEEK = {str(d): [["09:00", "17:00"]] for d in range(5)} | {"5": [], "6": []}


def _put_day(market: Market, weekday: int | str, intervals: list[Any], who: dict[str, str] | None = None,
             **extra: Any):  # type: ignore[no-untyped-def]
    return market.client.put(f"{HPLC}/opening-hours/{weekday}", headers=market.food_lab if who is None else who,
                             json={"intervals": intervals, **extra})


def _put_week(market: Market, hours: dict[str, Any], **extra: Any):  # type: ignore[no-untyped-def]
    return market.client.put(f"{HPLC}/opening-hours", headers=market.food_lab, json={"hours": hours, **extra})


def _blackout(market: Market, start: datetime, end: datetime, who: dict[str, str] | None = None, **extra: Any):  # type: ignore[no-untyped-def]
    return market.client.post(f"{HPLC}/blackouts", headers=market.food_lab if who is None else who,
                               json={"starts_at": start.isoformat(), "ends_at": end.isoformat(), "reason": "年度校准",
                                     **extra})


def _week_shown(market: Market) -> dict[int, list[list[str]]]:
    """The opening hours the lab's calendar shows for each weekday of the coming week."""
    days = market.client.get(f"{HPLC}/calendar?days=7", headers=market.food_lab).get_json()["days"]
    return {date.fromisoformat(d["day"]).weekday(): d["opening_hours"] for d in days}


def _visit(market: Market, start: datetime) -> str:
    return market.order(service_code="T-CQ-S001", mode="visit", samples=1, slot_start=start.isoformat(),
                        delivery_date=None)["number"]


def _accepted_visit(market: Market, start: datetime) -> str:
    number = _visit(market, start)
    market.pay(number)
    assert market.client.post(f"/api/v1/lab/orders/{number}/accept", headers=market.food_lab).status_code == 200
    return number


def _inbox(market: Market, kind: str) -> list[dict[str, Any]]:
    items = market.client.get("/api/v1/me/notifications", headers=market.customer).get_json()["items"]
    return [n for n in items if n["kind"] == kind]


# --- one weekday at a time ------------------------------------------------------------------------

def test_editing_one_day_leaves_the_rest_of_the_week(market: Market) -> None:
    r = _put_day(market, 0, [["13:00", "17:00"], ["08:00", "12:00"]])
    assert r.status_code == 200, r.get_json()
    assert r.get_json()["hours"] == DEFAULT_WEEK | {"0": [["08:00", "12:00"], ["13:00", "17:00"]]}
    assert _put_day(market, 1, []).status_code == 200  # closing Tuesday keeps Monday's new hours
    shown = _week_shown(market)
    assert shown[0] == [["08:00", "12:00"], ["13:00", "17:00"]] and shown[1] == [] and shown[2] == [["09:00", "17:00"]]


def test_the_week_put_replaces_only_the_days_it_names(market: Market) -> None:
    r = _put_week(market, {"5": [["09:00", "12:00"]], "2": [["10:00", "16:00"]]})
    assert r.status_code == 200, r.get_json()
    assert r.get_json()["hours"] == DEFAULT_WEEK | {"5": [["09:00", "12:00"]], "2": [["10:00", "16:00"]]}
    shown = _week_shown(market)
    assert shown[5] == [["09:00", "12:00"]] and shown[0] == [["09:00", "17:00"]] and shown[6] == []


def test_a_week_closed_day_by_day_stays_closed(market: Market) -> None:
    for day in range(7):
        assert _put_day(market, day, []).status_code == 200
    assert all(hours == [] for hours in _week_shown(market).values())  # not the default week again
    day = next_weekday_at(9).date()
    offer = market.client.get("/api/v1/services/T-CQ-S001/availability",
                              query_string={"from": day.isoformat(), "to": day.isoformat()}).get_json()
    assert offer["days"][0]["starts"] == []


BAD_DAYS: list[tuple[Any, list[Any], str]] = [
    (0, [["12:00", "09:00"]], "invalid_opening_hours"),
    (0, [["09:00", "09:00"]], "invalid_opening_hours"),
    (0, [["09:00", "12:00"], ["11:30", "14:00"]], "overlapping_opening_hours"),
    (0, [["09:00", "12:00"], ["09:00", "12:00"]], "overlapping_opening_hours"),
    (0, [["9点", "12:00"]], "invalid_time"),
    (0, [["09:00+08:00", "12:00"]], "invalid_time"),
    (0, [["09:00", "12:00", "15:00"]], "invalid_opening_hours"),
    (7, [["09:00", "12:00"]], "invalid_weekday"),
    ("mon", [["09:00", "12:00"]], "invalid_weekday"),
    (-1, [["09:00", "12:00"]], "invalid_weekday"),
]


@pytest.mark.parametrize("weekday, intervals, code", BAD_DAYS)
def test_bad_intervals_are_refused_in_chinese_and_change_nothing(market: Market, weekday: Any, intervals: list[Any],
                                                                 code: str) -> None:
    r = _put_day(market, weekday, intervals)
    assert r.status_code == 400, r.get_json()
    assert r.get_json()["error"]["code"] == code and CJK.search(r.get_json()["error"]["message"])
    assert _week_shown(market)[0] == [["09:00", "17:00"]]


def test_a_bad_weekday_in_the_week_body_is_refused(market: Market) -> None:
    for hours in ({"7": []}, {"x": []}):
        r = _put_week(market, hours)
        assert r.status_code == 400 and CJK.search(r.get_json()["error"]["message"])


def test_only_the_instruments_own_lab_may_edit(market: Market) -> None:
    day = next_weekday_at(9)
    stranger = market.client.put(f"{HPLC}/opening-hours/0", headers=market.material_lab, json={"intervals": []})
    missing = market.client.put("/api/v1/lab/instruments/NO-SUCH/opening-hours/0", headers=market.food_lab,
                                json={"intervals": []})
    assert stranger.status_code == missing.status_code == 404  # another lab's instrument looks like no instrument
    assert stranger.get_json()["error"]["code"] == missing.get_json()["error"]["code"] == "instrument_not_found"
    assert _blackout(market, day, day + timedelta(hours=1), who=market.material_lab).status_code == 404
    assert _put_day(market, 0, [], who=market.customer).status_code == 403
    assert market.client.put(f"{HPLC}/opening-hours/0", json={"intervals": []}).status_code == 401
    assert _week_shown(market)[0] == [["09:00", "17:00"]]
    assert _put_day(market, 0, [["10:00", "12:00"]], who=market.admin).status_code == 200


# --- booked customers are not stranded silently -----------------------------------------------------

def test_hours_that_strand_a_booking_are_refused_until_confirmed_then_the_customer_is_told(market: Market) -> None:
    start = next_weekday_at(10)
    accepted = _accepted_visit(market, start)
    paid = _visit(market, start + timedelta(hours=2))
    market.pay(paid)
    untouched = _visit(market, start + timedelta(hours=5))  # 15:00, still inside the new hours
    refused = _put_day(market, start.weekday(), [["14:00", "17:00"]])
    assert refused.status_code == 409
    error = refused.get_json()["error"]
    assert error["code"] == "bookings_affected" and accepted in error["message"] and paid in error["message"]
    assert untouched not in error["message"] and CJK.search(error["message"])
    assert [o["number"] for o in error["details"]["orders"]] == [accepted, paid]
    assert error["details"]["orders"][0]["slot_start"] == start.isoformat()
    assert _week_shown(market)[start.weekday()] == [["09:00", "17:00"]]  # nothing changed
    assert _inbox(market, "booking_affected") == []

    done = _put_day(market, start.weekday(), [["14:00", "17:00"]], confirm=True)
    assert done.status_code == 200, done.get_json()
    assert done.get_json()["notified_orders"] == [accepted, paid]
    assert _week_shown(market)[start.weekday()] == [["14:00", "17:00"]]
    told = _inbox(market, "booking_affected")
    assert sorted(n["order_number"] for n in told) == sorted([accepted, paid])
    note = next(n for n in told if n["order_number"] == accepted)
    assert f"{start:%Y-%m-%d} 10:00–11:00" in note["body"] and "开放时间" in note["body"] and "023-60000000" in note["body"]
    # the customer's order itself stands: the lab and the customer settle the new time between them
    assert market.client.get(f"/api/v1/orders/{accepted}", headers=market.customer).get_json()["status"] == "accepted"


def test_hours_that_keep_every_booking_need_no_confirmation(market: Market) -> None:
    start = next_weekday_at(10)
    _accepted_visit(market, start)
    r = _put_day(market, start.weekday(), [["10:00", "11:00"], ["13:00", "15:00"]])
    assert r.status_code == 200 and r.get_json()["notified_orders"] == []
    other_day = (start.weekday() + 1) % 7
    assert _put_day(market, other_day, []).status_code == 200
    assert _inbox(market, "booking_affected") == []


def test_cancelled_and_past_bookings_do_not_block_a_change(market: Market) -> None:
    start = next_weekday_at(10)
    cancelled = _visit(market, start)
    assert market.client.post(f"/api/v1/orders/{cancelled}/cancel", headers=market.customer,
                              json={"reason": ""}).status_code == 200
    past = _accepted_visit(market, start + timedelta(hours=2))
    with market.app.extensions["platform"].transaction() as session:
        yesterday = datetime.now(timezone.utc) - timedelta(days=1)
        session.execute(update(Order).where(Order.number == past)
                        .values(slot_start=yesterday, slot_end=yesterday + timedelta(hours=1)))
    assert _put_day(market, start.weekday(), []).status_code == 200


def test_a_blackout_over_a_booking_is_refused_until_confirmed_then_the_customer_is_told(market: Market) -> None:
    start = next_weekday_at(10)
    number = _accepted_visit(market, start)
    refused = _blackout(market, start + timedelta(minutes=30), start + timedelta(hours=3))
    assert refused.status_code == 409
    assert refused.get_json()["error"]["code"] == "bookings_affected" and number in refused.get_json()["error"]["message"]
    day = market.client.get(f"{HPLC}/calendar?start={start.date()}&days=1", headers=market.food_lab).get_json()
    assert day["days"][0]["blackouts"] == []

    beside = _blackout(market, start + timedelta(hours=1), start + timedelta(hours=3))  # from 11:00: clear
    assert beside.status_code == 201 and beside.get_json()["notified_orders"] == []
    assert _inbox(market, "booking_affected") == []

    done = _blackout(market, start - timedelta(hours=1), start + timedelta(hours=1), confirm=True)
    assert done.status_code == 201, done.get_json()
    assert done.get_json()["notified_orders"] == [number] and done.get_json()["starts_at"].endswith("+08:00")
    note = _inbox(market, "booking_affected")[0]
    assert note["order_number"] == number and "年度校准" in note["body"] and f"{start:%Y-%m-%d} 10:00" in note["body"]


# --- the private ICS feed -------------------------------------------------------------------------

def _feed(market: Market, url: str):  # type: ignore[no-untyped-def]
    return market.client.get(url.removeprefix("http://127.0.0.1:8000"))  # no sign-in: the secret is the key


def test_the_feed_lists_bookings_and_blackouts_for_calendar_apps(market: Market) -> None:
    start = next_weekday_at(10)
    number = _accepted_visit(market, start)
    unpaid = _visit(market, start + timedelta(hours=3))
    cancelled = _visit(market, start + timedelta(hours=5))
    market.client.post(f"/api/v1/orders/{cancelled}/cancel", headers=market.customer, json={"reason": ""})
    assert _blackout(market, start + timedelta(days=1), start + timedelta(days=1, hours=2)).status_code == 201
    made = market.client.post(f"{HPLC}/calendar-feed", headers=market.food_lab)
    assert made.status_code == 201, made.get_json()
    url = made.get_json()["url"]
    assert re.fullmatch(r"http://127\.0\.0\.1:8000/api/v1/lab/calendar/[A-Za-z0-9_-]{43}\.ics", url)

    r = _feed(market, url)
    assert r.status_code == 200 and r.mimetype == "text/calendar"
    events = {str(e["UID"]): e for e in Calendar.from_ical(r.data).walk("VEVENT")}
    booking = next(e for e in events.values() if number in str(e["SUMMARY"]))
    assert booking.decoded("DTSTART") == start and booking.decoded("DTEND") == start + timedelta(hours=1)
    assert "食品中苏丹红I-IV号的测定" in str(booking["SUMMARY"]) and "1 个样品" in str(booking["SUMMARY"])
    assert f"订单号：{number}" in str(booking["DESCRIPTION"]) and str(booking["STATUS"]) == "CONFIRMED"
    assert any(unpaid in str(e["SUMMARY"]) and str(e["STATUS"]) == "TENTATIVE" for e in events.values())
    assert not any(cancelled in str(e["SUMMARY"]) for e in events.values())
    blackout = next(e for e in events.values() if "年度校准" in str(e["SUMMARY"]))
    assert blackout.decoded("DTSTART") == start + timedelta(days=1)
    assert len(events) == 3


def test_the_feed_covers_thirty_days_back_to_ninety_ahead(market: Market) -> None:
    numbers = [_accepted_visit(market, next_weekday_at(h)) for h in (9, 11, 13, 15)]
    now = datetime.now(timezone.utc)
    with market.app.extensions["platform"].transaction() as session:
        for number, days in zip(numbers, (-45, -20, 80, 100)):
            moment = now + timedelta(days=days)
            session.execute(update(Order).where(Order.number == number)
                            .values(slot_start=moment, slot_end=moment + timedelta(hours=1)))
    url = market.client.post(f"{HPLC}/calendar-feed", headers=market.food_lab).get_json()["url"]
    summaries = " ".join(str(e["SUMMARY"]) for e in Calendar.from_ical(_feed(market, url).data).walk("VEVENT"))
    assert [n in summaries for n in numbers] == [False, True, True, False]


def test_rotating_or_revoking_the_feed_cuts_off_the_old_address(market: Market) -> None:
    first = market.client.post(f"{HPLC}/calendar-feed", headers=market.food_lab).get_json()["url"]
    second = market.client.post(f"{HPLC}/calendar-feed", headers=market.food_lab).get_json()["url"]
    assert first != second
    gone = _feed(market, first)
    assert gone.status_code == 404 and gone.get_json()["error"]["code"] == "calendar_feed_not_found"
    assert CJK.search(gone.get_json()["error"]["message"])
    assert _feed(market, second).status_code == 200
    assert market.client.delete(f"{HPLC}/calendar-feed", headers=market.food_lab).status_code == 200
    assert _feed(market, second).status_code == 404
    for path in ("/api/v1/lab/calendar/not-a-secret.ics", "/api/v1/lab/calendar/.ics",
                 "/api/v1/lab/calendar/" + "x" * 300 + ".ics"):
        assert market.client.get(path).status_code == 404


def test_only_the_instruments_own_lab_may_manage_its_feed(market: Market) -> None:
    for who, status in ((market.material_lab, 404), (market.customer, 403), ({}, 401)):
        assert market.client.post(f"{HPLC}/calendar-feed", headers=who).status_code == status
        assert market.client.delete(f"{HPLC}/calendar-feed", headers=who).status_code == status
    url = market.client.post(f"{HPLC}/calendar-feed", headers=market.admin).get_json()["url"]
    assert _feed(market, url).status_code == 200
