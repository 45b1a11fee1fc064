"""The bookable slots a customer is offered: every one of them can really be booked, and a
start not offered is refused; opening hours, blackouts, bookings and sample counts shape them."""
from __future__ import annotations

import re
from datetime import date, datetime, timedelta, timezone
from typing import Any

import pytest

from tests.orders.conftest import SHANGHAI, Market, next_weekday_at

HPLC = "/lab/instruments/T-CQ-FOOD-0001"
CJK = re.compile(r"[\u4e00-\u9fff]")


def _offered(market: Market, day: date, samples: int = 1, service: str = "T-CQ-S001",
             who: dict[str, str] | None = None) -> list[str]:
    r = market.client.get(f"/api/v1/services/{service}/availability", headers=who or {},
                          query_string={"from": day.isoformat(), "to": day.isoformat(), "samples": samples})
    assert r.status_code == 200, r.get_json()
    days = r.get_json()["days"]
    assert [d["day"] for d in days] == [day.isoformat()]
    return days[0]["starts"]


def _book(market: Market, start: str, samples: int = 1):  # type: ignore[no-untyped-def]
    return market.post("/orders", market.customer, service_code="T-CQ-S001", samples=samples, mode="visit",
                       sample_description="辣椒粉", slot_start=start)


def _at(day: date, hour: int, minute: int = 0) -> str:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=SHANGHAI).isoformat()


def test_every_offered_slot_of_a_day_can_be_booked_in_turn(market: Market) -> None:
    day = next_weekday_at(9).date()
    offered = _offered(market, day)
    # default week, 9 to 17, one-hour test on 30-minute cells: 09:00, 09:30 … 16:00
    assert offered[0] == _at(day, 9) and offered[-1] == _at(day, 16) and len(offered) == 15
    assert all(s.endswith("+08:00") for s in offered)
    booked = []
    while offered:  # always take the first start still offered, as a customer tapping the first button would
        r = _book(market, offered[0])
        assert r.status_code == 201, r.get_json()
        booked.append(r.get_json()["slot_start"])
        offered = _offered(market, day)
    assert len(booked) == 8  # 09:00, 10:00 … 16:00: the day is full
    refused = _book(market, _at(day, 9, 30))
    assert refused.status_code == 409 and refused.get_json()["error"]["code"] == "slot_taken"


def test_a_start_that_would_overlap_a_booking_is_not_offered_and_not_bookable(market: Market) -> None:
    day = next_weekday_at(9).date()
    assert _book(market, _at(day, 10)).status_code == 201
    offered = _offered(market, day)
    assert _at(day, 9) in offered and _at(day, 11) in offered  # right before and right after still fit
    for hour, minute in ((9, 30), (10, 0), (10, 30)):
        start = _at(day, hour, minute)
        assert start not in offered
        assert _book(market, start).status_code == 409
    for start in (offered[0], offered[len(offered) // 2], offered[-1]):
        assert _book(market, start).status_code == 201, start


def test_more_samples_ask_for_a_longer_slot(market: Market) -> None:
    day = next_weekday_at(9).date()
    r = market.client.get("/api/v1/services/T-CQ-S001/availability",
                          query_string={"from": day.isoformat(), "to": day.isoformat(), "samples": 3})
    body = r.get_json()
    assert body["slot_minutes"] == 180 and body["samples"] == 3 and body["instrument_code"] == "T-CQ-FOOD-0001"
    starts = body["days"][0]["starts"]
    assert starts[-1] == _at(day, 14)  # a three-hour visit must end by 17:00
    assert _book(market, starts[-1], samples=3).status_code == 201
    assert _book(market, _at(day, 14, 30), samples=3).get_json()["error"]["code"] == "slot_outside_opening_hours"


def test_opening_hours_and_blackouts_shape_the_offer(market: Market) -> None:
    day = next_weekday_at(9).date()
    r = market.client.put(f"/api/v1{HPLC}/opening-hours/{day.weekday()}", headers=market.food_lab,
                          json={"intervals": [["13:00", "15:00"], ["08:15", "10:00"]]})
    assert r.status_code == 200, r.get_json()
    r = market.post(f"{HPLC}/blackouts", market.food_lab, starts_at=_at(day, 13), ends_at=_at(day, 14),
                    reason="校准")
    assert r.status_code == 201, r.get_json()
    # 08:15 is not on a cell boundary: the first start is 08:30; the blackout leaves 14:00
    assert _offered(market, day) == [_at(day, 8, 30), _at(day, 9), _at(day, 14)]
    booked, offered = [], _offered(market, day)
    while offered:
        r = _book(market, offered[0])
        assert r.status_code == 201, r.get_json()
        booked.append(r.get_json()["slot_start"])
        offered = _offered(market, day)
    assert [datetime.fromisoformat(s) for s in booked] == [datetime.fromisoformat(_at(day, h, m)) for h, m in
                                                           ((8, 30), (14, 0))]  # 08:30–09:30 took 09:00's place
    assert _book(market, _at(day, 13)).get_json()["error"]["code"] == "slot_blackout"


def test_a_cancelled_booking_puts_its_slot_back_on_offer(market: Market) -> None:
    day = next_weekday_at(9).date()
    number = _book(market, _at(day, 11)).get_json()["number"]
    assert _at(day, 11) not in _offered(market, day)
    assert market.post(f"/orders/{number}/cancel", market.customer, reason="").status_code == 200
    assert _at(day, 11) in _offered(market, day)


def test_weekends_past_times_and_a_week_by_default(market: Market) -> None:
    r = market.client.get("/api/v1/services/T-CQ-S001/availability")
    assert r.status_code == 200
    days = r.get_json()["days"]
    today = datetime.now(SHANGHAI).date()
    assert [d["day"] for d in days] == [(today + timedelta(days=i)).isoformat() for i in range(7)]
    now = datetime.now(timezone.utc)
    for d in days:
        if date.fromisoformat(d["day"]).weekday() >= 5:
            assert d["starts"] == []
        assert all(datetime.fromisoformat(s) > now for s in d["starts"])
    past = today - timedelta(days=3)
    assert _offered(market, past) == []


def test_anyone_may_look_and_hidden_listings_are_not_found(market: Market) -> None:
    day = next_weekday_at(9).date()
    assert _offered(market, day, who=market.customer) == _offered(market, day)
    for code in ("T-CD-S002", "NO-SUCH-SERVICE"):
        r = market.client.get(f"/api/v1/services/{code}/availability")
        assert r.status_code == 404 and CJK.search(r.get_json()["error"]["message"])


BAD_QUERIES: list[dict[str, Any]] = [
    {"from": "2030-01-10", "to": "2030-01-09"},  # backwards
    {"from": "2030-01-01", "to": "2030-02-01"},  # 32 days
    {"from": "1900-01-01", "to": "1900-01-02"},
    {"from": "9999-12-30"},
    {"from": "2030-02-30"},
    {"from": "明天"},
    {"samples": 0}, {"samples": -1}, {"samples": "两个"}, {"samples": 100_001}, {"samples": 2.5},
    {"limit": 3},
]


@pytest.mark.parametrize("query", BAD_QUERIES)
def test_bad_queries_are_refused_in_chinese(market: Market, query: dict[str, Any]) -> None:
    r = market.client.get("/api/v1/services/T-CQ-S001/availability", query_string=query)
    assert r.status_code == 400, r.get_json()
    error = r.get_json()["error"]
    assert error["code"] == "invalid_query" and CJK.search(error["message"]), error


def test_thirty_one_days_is_the_longest_range(market: Market) -> None:
    r = market.client.get("/api/v1/services/T-CQ-S002/availability",
                          query_string={"from": "2030-01-01", "to": "2030-01-31", "samples": 100_000})
    assert r.status_code == 200 and len(r.get_json()["days"]) == 31
    assert all(d["starts"] == [] for d in r.get_json()["days"])  # 100,000 hours fit in no opening window
