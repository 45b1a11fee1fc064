"""Money under faults: Redis lost at the wrong moment, payments completed twice at once,
orders paid through two attempts, retried POSTs. What a payer or an auditor would notice."""
from __future__ import annotations

import socket
from contextlib import contextmanager
from datetime import timedelta
from typing import Callable, Iterator

import redis
from sqlalchemy import func, select

from core.models import Job, LedgerTransaction, Payment, Refund
from core.models._types import utcnow
from tests.conftest import cli
from tests.orders.conftest import Market
from tests.orders.test_concurrency import _race


def run_worker(market: Market) -> None:
    result = cli(market.app, "worker", "--burst")
    assert result.exit_code == 0, result.output


@contextmanager
def redis_unreachable(market: Market) -> Iterator[None]:
    """Every Redis call of the API process fails, as when the connection is cut."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        dead_port = sock.getsockname()[1]
    platform = market.app.extensions["platform"]
    real, platform._redis = platform._redis, redis.Redis(port=dead_port, socket_connect_timeout=0.2)
    try:
        yield
    finally:
        platform._redis = real


def refunds(market: Market) -> list[Refund]:
    with market.app.extensions["platform"].session_factory() as session:
        return list(session.scalars(select(Refund).order_by(Refund.id)))


def test_a_refund_decided_while_redis_is_down_is_sent_once_redis_is_back(market: Market) -> None:
    numbers = [market.paid_order() for _ in range(3)]
    with redis_unreachable(market):
        for number in numbers:
            r = market.post(f"/lab/orders/{number}/reject", market.food_lab, reason="仪器故障")
            assert r.status_code == 200, r.get_json()  # the decision stands although no job reached Redis
    assert [r.status for r in refunds(market)] == ["requested"] * 3
    run_worker(market)
    assert [(r.status, r.amount_cents) for r in refunds(market)] == [("succeeded", 40000)] * 3
    run_worker(market)  # nothing is sent twice
    assert len(refunds(market)) == 3
    market.assert_books_balance()


def test_a_job_whose_queue_entry_vanished_is_handed_out_again(market: Market) -> None:
    number = market.paid_order()
    market.post(f"/lab/orders/{number}/reject", market.food_lab, reason="仪器故障")
    market.app.extensions["platform"].redis.flushdb()  # Redis restarted without its data
    from workers.outbox import relay_once

    report = relay_once(market.app.extensions["platform"], now=utcnow() + timedelta(minutes=1))
    assert report.lost >= 1
    run_worker(market)
    assert [r.status for r in refunds(market)] == ["succeeded"]
    with market.app.extensions["platform"].session_factory() as session:
        # only the payment check waits, for after the order's payment window
        assert session.scalar(select(func.count(Job.id)).where(Job.status != "done", Job.due_at <= utcnow())) == 0


def test_ten_simultaneous_completions_credit_one_payment_once(market: Market) -> None:
    number = market.order()["number"]
    started = market.post(f"/orders/{number}/payment", market.customer).get_json()["payment"]

    def complete(_: int) -> int:
        return market.app.test_client().post(started["pay_url"], headers=market.customer).status_code

    assert set(_race(10, complete)) == {200}
    with market.app.extensions["platform"].session_factory() as session:
        credits = session.scalar(select(func.count(LedgerTransaction.id)).where(LedgerTransaction.kind == "payment"))
        payment = session.scalar(select(Payment))
        assert (credits, payment.refunded_cents) == (1, 0)
    assert refunds(market) == []
    assert market.get(f"/orders/{number}", market.customer).get_json()["status"] == "paid"
    market.assert_books_balance()


def test_an_order_paid_through_two_attempts_is_refunded_through_each(market: Market) -> None:
    number = market.order()["number"]
    first = market.post(f"/orders/{number}/payment", market.customer).get_json()["payment"]
    second = market.post(f"/orders/{number}/payment", market.customer).get_json()["payment"]
    assert first["out_trade_no"] != second["out_trade_no"]
    assert market.client.post(first["pay_url"], headers=market.customer).get_json()["result"] == "paid"
    assert market.client.post(second["pay_url"], headers=market.customer).get_json()["result"] == "refunded_late"
    market.post(f"/lab/orders/{number}/reject", market.food_lab, reason="样品不合格")
    run_worker(market)
    sent = {(r.out_refund_no, r.amount_cents, r.status) for r in refunds(market)}
    assert sent == {(first["out_trade_no"] + "R1", 40000, "succeeded"),
                    (second["out_trade_no"] + "R1", 40000, "succeeded")}
    with market.app.extensions["platform"].session_factory() as session:
        assert all(p.refunded_cents == p.amount_cents for p in session.scalars(select(Payment)))
    market.assert_books_balance()


def test_the_same_idempotency_key_gives_the_same_order_once(market: Market) -> None:
    body = {"service_code": "T-CQ-S002", "samples": 1, "sample_description": "辣椒粉一袋", "mode": "mail",
            "delivery_date": (utcnow() + timedelta(days=3)).date().isoformat()}
    headers = {**market.customer, "Idempotency-Key": "order-7f3a"}
    answers = [market.client.post("/api/v1/orders", headers=headers, json=body) for _ in range(3)]
    assert [a.status_code for a in answers] == [201, 201, 201]
    assert len({a.get_json()["number"] for a in answers}) == 1
    assert answers[-1].headers.get("Idempotent-Replayed") == "true"
    other = market.client.post("/api/v1/orders", headers=headers, json={**body, "samples": 2})
    assert other.status_code == 409 and other.get_json()["error"]["code"] == "idempotency_key_reused"
    # without a key each POST is a new order; another user's identical key is theirs alone
    stranger = {**market.sign_in(name="李四"), "Idempotency-Key": "order-7f3a"}
    assert market.client.post("/api/v1/orders", headers=stranger, json=body).status_code == 201
    assert len(market.get("/orders", market.customer).get_json()["items"]) == 1


def test_racing_retries_with_one_key_make_one_payment(market: Market) -> None:
    number = market.order()["number"]
    headers = {**market.customer, "Idempotency-Key": f"pay-{number}"}

    def pay(_: int) -> int:
        return market.app.test_client().post(f"/api/v1/orders/{number}/payment", headers=headers).status_code

    codes = _race(6, pay)
    assert codes.count(200) >= 1 and set(codes) <= {200, 409}
    with market.app.extensions["platform"].session_factory() as session:
        assert session.scalar(select(func.count(Payment.id))) == 1


def test_every_post_that_moves_money_honours_the_key(market_factory: Callable[..., Market]) -> None:
    market = market_factory()
    number = market.paid_order()
    market.through_report(number)
    headers = {**market.customer, "Idempotency-Key": "confirm-1"}
    first = market.client.post(f"/api/v1/orders/{number}/confirm", headers=headers)
    again = market.client.post(f"/api/v1/orders/{number}/confirm", headers=headers)
    assert (first.status_code, again.status_code) == (200, 200)  # not 409 wrong_state: the retry is answered
    assert again.get_json() == first.get_json()
    bad = market.client.post(f"/api/v1/orders/{number}/cancel", headers={**market.customer, "Idempotency-Key": "x" * 300})
    assert bad.status_code == 400 and bad.get_json()["error"]["code"] == "invalid_idempotency_key"
    market.assert_books_balance()


def test_operators_find_and_redrive_unfinished_money_jobs_from_the_database(market: Market) -> None:
    number = market.paid_order()
    with redis_unreachable(market):
        market.post(f"/lab/orders/{number}/reject", market.food_lab, reason="仪器故障")
    shown = cli(market.app, "orders", "jobs")
    assert shown.exit_code == 0
    assert "send_refund" in shown.stdout and "refunds requested      1" in shown.stdout
    assert "400.00 CNY" in shown.stdout
    redriven = cli(market.app, "orders", "jobs", "--redrive")
    assert redriven.exit_code == 0 and "will be handed out" in redriven.stdout
    run_worker(market)
    assert "refunds requested" not in cli(market.app, "orders", "jobs").stdout
