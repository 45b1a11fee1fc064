"""Races: one slot, one voucher balance, one group-buy place, many buyers at once."""
from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable

from tests.orders.conftest import Market, next_weekday_at


def _race(n: int, attempt: Callable[[int], Any]) -> list[Any]:
    barrier = threading.Barrier(n)

    def go(i: int) -> Any:
        barrier.wait()
        return attempt(i)

    with ThreadPoolExecutor(n) as pool:
        return list(pool.map(go, range(n)))


def test_twenty_concurrent_bookings_of_one_slot_sell_it_once(market: Market) -> None:
    buyers = [market.sign_in(name=f"买家{i}") for i in range(20)]
    start = next_weekday_at(9).isoformat()

    def book(i: int) -> tuple[int, str]:
        r = market.app.test_client().post("/api/v1/orders", headers=buyers[i], json={
            "service_code": "T-CQ-S001", "samples": 1, "mode": "visit", "slot_start": start,
            "sample_description": "辣椒粉"})
        return r.status_code, r.get_json().get("error", {}).get("code", "")

    results = _race(20, book)
    assert sorted(status for status, _ in results) == [201] + [409] * 19
    assert {code for status, code in results if status == 409} == {"slot_taken"}
    calendar = market.client.get(f"/api/v1/lab/instruments/T-CQ-FOOD-0001/calendar?start={start[:10]}&days=1",
                                 headers=market.food_lab).get_json()
    assert len(calendar["days"][0]["booked"]) == 1


def test_concurrent_payments_cannot_spend_one_voucher_balance_twice(market: Market) -> None:
    voucher = market.voucher(amount=200)  # covers exactly one order's voucher part (half of 400)
    numbers = [market.order(voucher_id=voucher)["number"] for _ in range(6)]
    assert all(market.get(f"/orders/{n}", market.customer).get_json()["voucher_cny"] == 200 for n in numbers)

    def pay(i: int) -> tuple[int, str]:
        r = market.app.test_client().post(f"/api/v1/orders/{numbers[i]}/payment", headers=market.customer)
        return r.status_code, r.get_json().get("error", {}).get("code", "")

    results = _race(6, pay)
    assert sorted(s for s, _ in results) == [200] + [422] * 5
    assert {c for s, c in results if s == 422} == {"voucher_balance_insufficient"}
    balance = market.get("/vouchers", market.customer).get_json()["items"][0]
    assert (balance["reserved_cny"], balance["available_cny"]) == (200, 0)
    losers = [n for n, (s, _) in zip(numbers, results) if s == 422]
    assert {market.get(f"/orders/{n}", market.customer).get_json()["status"] for n in losers} == {"created"}
    market.assert_books_balance()


def test_concurrent_settlements_and_refunds_keep_the_books_balanced(market: Market) -> None:
    voucher = market.voucher(amount=20000)
    numbers = [market.paid_order(voucher_id=voucher) for _ in range(8)]
    for n in numbers[:4]:
        market.through_report(n)

    def finish(i: int) -> int:
        client = market.app.test_client()
        if i < 4:
            return client.post(f"/api/v1/orders/{numbers[i]}/confirm", headers=market.customer).status_code
        return client.post(f"/api/v1/lab/orders/{numbers[i]}/reject", headers=market.food_lab,
                           json={"reason": "样品不符合要求"}).status_code

    assert _race(8, finish) == [200] * 8
    balances = market.ledger()["balances"]
    assert next(v for k, v in balances.items() if k.startswith("lab:")) == 4 * 400
    assert balances["voucher_fund"] == -4 * 200
    market.assert_books_balance()
