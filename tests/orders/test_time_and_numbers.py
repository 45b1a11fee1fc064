"""Times and numbers at the edge of the order API: midnight, missing offsets, loose JSON numbers."""
from __future__ import annotations

import json
import re
from datetime import datetime, timedelta
from typing import Any

import pytest

from tests.orders.conftest import SHANGHAI, Market, next_weekday_at

ISO_MOMENT = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}")


def _visit(market: Market, start: datetime | str, samples: int = 1):  # type: ignore[no-untyped-def]
    return market.post("/orders", market.customer, service_code="T-CQ-S001", samples=samples, mode="visit",
                       sample_description="辣椒粉", slot_start=start if isinstance(start, str) else start.isoformat())


@pytest.mark.parametrize("hour, samples", [(23, 1), (16, 8), (22, 2), (0, 1)])
def test_a_slot_running_to_or_past_midnight_is_outside_opening_hours(market: Market, hour: int, samples: int) -> None:
    r = _visit(market, next_weekday_at(hour), samples)
    assert r.status_code == 400 and r.get_json()["error"]["code"] == "slot_outside_opening_hours"
    assert market.get("/orders", market.customer).get_json()["items"] == []


def test_a_slot_ending_exactly_at_closing_time_is_bookable(market: Market) -> None:
    assert _visit(market, next_weekday_at(16)).status_code == 201


@pytest.mark.parametrize("start", ["2027-03-03T10:00:00", "2027-03-03 10:00", "明天上午", "2027-03-03"])
def test_a_slot_without_a_time_zone_is_refused_with_the_expected_format(market: Market, start: str) -> None:
    r = _visit(market, start)
    assert r.status_code == 400
    error = r.get_json()["error"]
    assert error["code"] == "invalid_body" and "slot_start" in error["message"] and "ISO 8601" in error["message"]
    assert market.get("/orders", market.customer).get_json()["items"] == []


BAD_NUMBERS: list[tuple[str, Any]] = [
    ("samples", True), ("samples", "2"), ("samples", 2.5), ("samples", 10 ** 30), ("samples", 0),
    ("voucher_cny", True), ("voucher_cny", "100"), ("voucher_cny", 1e400), ("voucher_cny", -1),
    ("voucher_cny", 12.345), ("expected_total_cny", False), ("campaign_id", 2 ** 70), ("voucher_id", True),
]


@pytest.mark.parametrize("field, value", BAD_NUMBERS)
def test_loose_numbers_are_bad_input_and_nothing_is_written(market: Market, field: str, value: Any) -> None:
    body = {"service_code": "T-CQ-S002", "samples": 1, "sample_description": "x", "mode": "mail",
            "delivery_date": (datetime.now(SHANGHAI) + timedelta(days=3)).date().isoformat(), field: value}
    raw = json.dumps(body).replace("Infinity", "1e400")
    r = market.client.post("/api/v1/orders", headers={**market.customer, "Content-Type": "application/json"}, data=raw)
    assert r.status_code == 400, r.get_json()
    assert r.get_json()["error"]["details"]["fields"].keys() == {field}
    assert re.search(r"[\u4e00-\u9fff]", r.get_json()["error"]["message"])  # said in Chinese
    assert market.get("/orders", market.customer).get_json()["items"] == []


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity"])
def test_non_finite_json_literals_are_bad_input(market: Market, literal: str) -> None:
    raw = ('{"service_code": "T-CQ-S002", "samples": 1, "sample_description": "x", "mode": "mail", '
           f'"delivery_date": "2030-01-07", "voucher_cny": {literal}}}')
    r = market.client.post("/api/v1/orders", headers={**market.customer, "Content-Type": "application/json"}, data=raw)
    assert r.status_code == 400 and r.get_json()["error"]["code"] == "invalid_body"


def _moments(value: Any, path: str = "") -> list[tuple[str, str]]:
    if isinstance(value, dict):
        return [m for k, v in value.items() for m in _moments(v, f"{path}.{k}")]
    if isinstance(value, list):
        return [m for i, v in enumerate(value) for m in _moments(v, f"{path}[{i}]")]
    return [(path, value)] if isinstance(value, str) and ISO_MOMENT.match(value) else []


def test_every_time_the_json_api_sends_carries_its_offset(market: Market) -> None:
    number = _visit(market, next_weekday_at(10)).get_json()["number"]
    answers = [market.get(f"/orders/{number}", market.customer).get_json()]
    answers.append(market.pay(number))
    market.through_report(number)
    answers += [market.get(f"/orders/{number}", market.customer).get_json(),
                market.get("/orders", market.food_lab).get_json(),
                market.get("/me/notifications", market.customer).get_json(),
                market.get(f"/orders/{number}/report", market.customer).get_json(),
                market.get("/lab/instruments/T-CQ-FOOD-0001/calendar?days=14", market.food_lab).get_json(),
                market.post(f"/orders/{number}/confirm", market.customer).get_json()]
    seen = [m for answer in answers for m in _moments(answer)]
    assert len(seen) > 10
    naive = [(path, text) for path, text in seen if not re.search(r"(Z|[+-]\d{2}:\d{2})$", text)]
    assert naive == []


def test_notifications_show_times_in_the_platform_time_zone(market: Market) -> None:
    start = next_weekday_at(10)  # 10:00 in Shanghai is 02:00 UTC
    number = _visit(market, start).get_json()["number"]
    market.pay(number)
    assert market.post(f"/lab/orders/{number}/accept", market.food_lab).status_code == 200
    body = market.get("/me/notifications", market.customer).get_json()["items"][0]["body"]
    assert f"{start:%Y-%m-%d} 10:00" in body and "UTC" not in body
