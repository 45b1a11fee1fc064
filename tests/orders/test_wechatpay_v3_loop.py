"""The order loop on WeChat Pay API v3 (a local stand-in that checks signatures): frozen funds,
a refund confirmed by its notification, and settlement split to the lab (分账)."""
from __future__ import annotations

from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import Callable, Iterator

import pytest
from sqlalchemy import select

from core.models import Payment, ProfitShare, Refund
from tests.conftest import cli, serving
from tests.fake_wechatpay_v3 import (
    APIV3_KEY, APP_ID, LAB_MCH_ID, LAB_NAME, MCH_ID, MCH_SERIAL, PUBLIC_KEY_ID, FakeWeChatPayV3, make_keys,
    payment_notification, refund_notification,
)
from tests.orders.conftest import Market


@pytest.fixture
def v3_market(market_factory: Callable[..., Market], tmp_path: Path) -> Iterator[Market]:
    (tmp_path / "keys").mkdir()
    keys = make_keys(tmp_path / "keys")
    FakeWeChatPayV3.reset(keys)
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeWeChatPayV3)
    server.daemon_threads = True
    with serving(server):
        market = market_factory(
            PAYMENT_PROVIDER="wechatpay_v3", WECHATPAY_API_BASE_URL=f"http://127.0.0.1:{server.server_port}/",
            WECHATPAY_MCH_ID=MCH_ID, WECHATPAY_APIV3_KEY=APIV3_KEY, WECHATPAY_CERT_SERIAL_NO=MCH_SERIAL,
            WECHATPAY_MCH_KEY=str(keys.merchant_key_file), WECHATPAY_PUBLIC_KEY=str(keys.platform_public_file),
            WECHATPAY_PUBLIC_KEY_ID=PUBLIC_KEY_ID, WECHATPAY_APP_ID=APP_ID, JOB_RETRY_INTERVALS="0",
            PUBLIC_BASE_URL="https://lab-share.example.cn")
        market.keys = keys  # type: ignore[attr-defined]
        result = cli(market.app, "catalog", "institution-payee", "T-CQ-FOOD", "MERCHANT_ID", LAB_MCH_ID, LAB_NAME)
        assert result.exit_code == 0, result.output
        yield market


def _pay(market: Market, number: str) -> str:
    answer = market.post(f"/orders/{number}/payment", market.customer)
    assert answer.status_code == 200, answer.get_json()
    started = answer.get_json()["payment"]
    assert started["jsapi"]["signType"] == "RSA" and started["jsapi"]["package"].startswith("prepay_id=")
    trade = started["out_trade_no"]
    FakeWeChatPayV3.pay(trade)
    body, headers = payment_notification(market.keys, trade)  # type: ignore[attr-defined]
    ack = market.client.post("/api/v1/payments/wechatpay_v3/notify", data=body, headers=headers)
    assert ack.status_code == 204, ack.data
    return trade


def _worker(market: Market) -> None:
    assert cli(market.app, "worker", "--burst").exit_code == 0


def test_a_rejected_order_is_refunded_from_frozen_funds_and_confirmed_by_notification(v3_market: Market) -> None:
    market = v3_market
    number = market.order()["number"]
    trade = _pay(market, number)
    assert FakeWeChatPayV3.orders[trade]["profit_sharing"] and FakeWeChatPayV3.orders[trade]["frozen"] == 40000
    market.post(f"/lab/orders/{number}/reject", market.food_lab, reason="仪器故障")
    _worker(market)
    assert FakeWeChatPayV3.refunded_cents(trade) == 40000
    with market.app.extensions["platform"].session_factory() as session:
        refund = session.scalar(select(Refund))
        assert refund.out_refund_no == trade + "R1"
    body, headers = refund_notification(market.keys, refund.out_refund_no)  # type: ignore[attr-defined]
    assert market.client.post("/api/v1/payments/wechatpay_v3/notify", data=body, headers=headers).status_code == 204
    with market.app.extensions["platform"].session_factory() as session:
        assert session.scalar(select(Refund)).status == "succeeded"
    market.assert_books_balance()


def test_settlement_splits_the_lab_part_and_unfreezes_the_rest(v3_market: Market) -> None:
    market = v3_market
    number = market.order()["number"]
    trade = _pay(market, number)
    market.through_report(number)
    assert market.post(f"/orders/{number}/confirm", market.customer).get_json()["status"] == "settled"
    _worker(market)
    with market.app.extensions["platform"].session_factory() as session:
        share = session.scalar(select(ProfitShare))
        payment = session.scalar(select(Payment))
        assert (share.status, share.amount_cents, payment.profit_sharing) == ("finished", 40000, True)
    split = FakeWeChatPayV3.splits[share.out_order_no]
    assert [(r["account"], r["amount"]) for r in split["receivers"]] == [(LAB_MCH_ID, 40000)]
    assert FakeWeChatPayV3.orders[trade]["frozen"] == 0
    market.assert_books_balance()


def test_a_second_payment_refunded_late_leaves_one_split_and_nothing_stuck(v3_market: Market) -> None:
    market = v3_market
    number = market.order()["number"]
    _pay(market, number)
    second = market.post(f"/orders/{number}/payment", market.customer)
    assert second.status_code == 409  # the order is paid: no second attempt can be opened
    market.through_report(number)
    market.post(f"/orders/{number}/confirm", market.customer)
    _worker(market)
    with market.app.extensions["platform"].session_factory() as session:
        shares = session.scalars(select(ProfitShare)).all()
        assert [(s.status, s.amount_cents) for s in shares] == [("finished", 40000)]
    assert "jobs due and not done: 0" in cli(market.app, "orders", "jobs").stdout
