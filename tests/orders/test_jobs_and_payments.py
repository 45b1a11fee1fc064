"""Timed work run by real RQ workers (burst mode, real Redis), payment notifications,
WeChat Pay through a local stand-in, and notifications pushed to a stand-in WeChat."""
from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Callable

from flask import Flask
from rq.registry import FailedJobRegistry

from core.queue import NOTIFICATIONS_QUEUE
from core.services.people.users import create_admin, create_staff
from tests.conftest import MINI_CATALOG, cli
from tests.fake_wechat import UNREACHABLE_OPENID, FakeWeChat
from tests.fake_wechatpay import API_KEY, APP_ID, MCH_ID, FakeWeChatPay, badly_signed_payment_notification, \
    signed_payment_notification
from tests.orders.conftest import CREDIT_CODE, Market, next_weekday_at


def run_worker(market: Market) -> None:
    result = cli(market.app, "worker", "--burst", "--simple")
    assert result.exit_code == 0, result.output


def status(market: Market, number: str) -> str:
    return market.get(f"/orders/{number}", market.customer).get_json()["status"]


def test_an_unpaid_order_expires_and_frees_its_slot_and_voucher(market_factory: Callable[..., Market]) -> None:
    market = market_factory(ORDER_PAYMENT_MINUTES="0")
    voucher = market.voucher(amount=1000)
    start = next_weekday_at(11).isoformat()
    number = market.order(service_code="T-CQ-S001", mode="visit", slot_start=start, samples=1, voucher_id=voucher,
                          delivery_date=None)["number"]
    late = market.post(f"/orders/{number}/payment", market.customer)
    assert late.status_code == 409 and late.get_json()["error"]["code"] == "order_expired"
    run_worker(market)
    assert status(market, number) == "expired"
    again = market.post("/orders", market.customer, service_code="T-CQ-S001", mode="visit", slot_start=start,
                        samples=1, sample_description="x")
    assert again.status_code == 201
    assert market.get("/vouchers", market.customer).get_json()["items"][0]["available_cny"] == 1000
    market.assert_books_balance()


def test_an_undisputed_report_is_confirmed_and_settled_by_the_worker(market_factory: Callable[..., Market]) -> None:
    market = market_factory(ORDER_AUTO_CONFIRM_DAYS="0")
    number = market.paid_order()
    market.through_report(number)
    run_worker(market)
    assert status(market, number) == "settled"
    trail = market.get(f"/orders/{number}", market.customer).get_json()["events"]
    assert trail[-2]["actor_role"] == "system" and "天内无异议" in trail[-2]["reason"]
    kinds = [n["kind"] for n in market.get("/me/notifications", market.customer).get_json()["items"]]
    assert "report_ready" in kinds
    run_worker(market)  # running the same jobs again changes nothing
    assert status(market, number) == "settled"
    market.assert_books_balance()


def _campaign(market: Market, min_samples: int, seconds: float) -> int:
    deadline = datetime.now(timezone.utc) + timedelta(seconds=seconds)
    r = market.post("/lab/group-buys", market.food_lab, service_code="T-CQ-S003", min_samples=min_samples,
                    max_samples=5, group_price_cny=150, deadline=deadline.isoformat(),
                    run_date=(deadline + timedelta(days=3)).date().isoformat())
    assert r.status_code == 201, r.get_json()
    return r.get_json()["id"]


def test_group_buy_reaching_its_minimum_becomes_one_batch(market: Market) -> None:
    campaign = _campaign(market, min_samples=3, seconds=3)
    first = market.paid_order(service_code="T-CQ-S003", samples=2, campaign_id=campaign, delivery_date=None)
    second = market.paid_order(service_code="T-CQ-S003", samples=2, campaign_id=campaign, delivery_date=None)
    full = market.post("/orders", market.customer, service_code="T-CQ-S003", samples=2, campaign_id=campaign,
                       sample_description="x")
    assert full.status_code == 409 and full.get_json()["error"]["code"] == "campaign_full"
    shown = market.client.get(f"/api/v1/group-buys/{campaign}").get_json()
    assert shown["progress"].startswith("已拼 4/5 样") and shown["group_price_cny"] == 150
    time.sleep(3.2)
    run_worker(market)
    assert {status(market, first), status(market, second)} == {"accepted"}
    assert market.client.get(f"/api/v1/group-buys/{campaign}").get_json()["status"] == "confirmed"
    market.assert_books_balance()


def test_group_buy_missing_its_minimum_refunds_everyone(market: Market) -> None:
    campaign = _campaign(market, min_samples=4, seconds=2)
    paid = market.paid_order(service_code="T-CQ-S003", samples=1, campaign_id=campaign, delivery_date=None)
    unpaid = market.order(service_code="T-CQ-S003", samples=1, campaign_id=campaign, delivery_date=None)["number"]
    time.sleep(2.2)
    run_worker(market)
    assert (status(market, paid), status(market, unpaid)) == ("refunded", "expired")
    assert market.client.get(f"/api/v1/group-buys/{campaign}").get_json()["status"] == "failed"
    balances = market.ledger()["balances"]
    assert all(v == 0 for v in balances.values())
    assert "拼单未成团" in [n["title"] for n in market.get("/me/notifications", market.customer).get_json()["items"]]


def test_payment_notifications_are_idempotent_and_bogus_ones_change_nothing(market: Market) -> None:
    from core.payment_providers.sandbox import SandboxProvider

    number = market.order()["number"]
    started = market.post(f"/orders/{number}/payment", market.customer).get_json()["payment"]
    provider = SandboxProvider(market.app.extensions["platform"].settings.secret_key)
    genuine = provider.signed_notification(started["out_trade_no"], started["amount_cents"])
    notify = lambda body: market.client.post("/api/v1/payments/sandbox/notify", data=body)  # noqa: E731

    forged = SandboxProvider("another secret").signed_notification(started["out_trade_no"], started["amount_cents"])
    assert notify(forged).status_code == 400
    unknown = provider.signed_notification("O20990101DEADBEEFP1", 100)
    assert notify(unknown).status_code == 404
    cheap = provider.signed_notification(started["out_trade_no"], 1)
    assert notify(cheap).status_code == 400
    assert status(market, number) == "awaiting_payment" and market.ledger()["balances"] == {}

    assert notify(genuine).status_code == 200
    assert notify(genuine).status_code == 200  # the provider repeats itself
    assert status(market, number) == "paid"
    assert market.ledger()["balances"] == {f"escrow:{1}": 400, "payer:1": -400}
    market.assert_books_balance()


def test_wechat_pay_from_unified_order_to_refund(market_factory: Callable[..., Market], fake_wechatpay: str) -> None:
    market = market_factory(PAYMENT_PROVIDER="wechatpay", WECHATPAY_MCH_ID=MCH_ID, WECHATPAY_API_KEY=API_KEY,
                            WECHATPAY_APP_ID=APP_ID, WECHATPAY_API_BASE_URL=fake_wechatpay, JOB_RETRY_INTERVALS="0")
    number = market.order()["number"]
    started = market.post(f"/orders/{number}/payment", market.customer).get_json()["payment"]
    assert started["provider"] == "wechatpay" and started["jsapi"]["package"].startswith("prepay_id=")
    trade = started["out_trade_no"]
    assert FakeWeChatPay.orders[trade]["total_fee"] == "40000"

    bad = market.client.post("/api/v1/payments/wechatpay/notify",
                             data=badly_signed_payment_notification(trade, 40000, "4200001"))
    assert bad.status_code == 400 and b"FAIL" in bad.data and status(market, number) == "awaiting_payment"
    good = signed_payment_notification(API_KEY, trade, 40000, "4200001", APP_ID, MCH_ID)
    for _ in range(2):
        ack = market.client.post("/api/v1/payments/wechatpay/notify", data=good)
        assert ack.status_code == 200 and b"SUCCESS" in ack.data
    assert status(market, number) == "paid"

    market.post(f"/lab/orders/{number}/reject", market.food_lab, reason="仪器故障")
    run_worker(market)
    refunds = [r for r in FakeWeChatPay.refunds.values() if r["out_trade_no"] == trade]
    assert [int(r["refund_fee"]) for r in refunds] == [40000]
    market.assert_books_balance()


def test_notifications_reach_wechat_and_failures_are_recorded(app_factory: Callable[..., Flask], tmp_path: Path,
                                                              fake_wechat: str) -> None:
    app = app_factory(tmp_path, RATE_LIMIT_LOGIN_PER_IP="0", WECHAT_MINI_APP_ID="wx-mini", WECHAT_MINI_APP_SECRET="s",
                      WECHAT_API_BASE_URL=fake_wechat, WECHAT_SUBSCRIBE_TEMPLATE_ID="tmpl-order",
                      JOB_RETRY_INTERVALS="0,0")
    assert cli(app, "catalog", "import", "--approve", str(MINI_CATALOG)).exit_code == 0
    client = app.test_client()
    with app.extensions["platform"].transaction() as session:
        create_staff(session, "food-staff", "a-long-password", "T-CQ-FOOD").wechat_openid = UNREACHABLE_OPENID
        create_admin(session, "admin", "a-long-password")

    def bearer(answer) -> dict[str, str]:  # type: ignore[no-untyped-def]
        return {"Authorization": f"Bearer {answer.get_json()['token']}"}

    staff = bearer(client.post("/api/v1/auth/password-login", json={"username": "food-staff", "password": "a-long-password"}))
    admin = bearer(client.post("/api/v1/auth/password-login", json={"username": "admin", "password": "a-long-password"}))
    customer = bearer(client.post("/api/v1/auth/login", json={"code": "buyer"}))  # openid o-buyer at the stand-in
    client.put("/api/v1/me/company", headers=customer, json={
        "company_name": "某食品公司", "credit_code": CREDIT_CODE, "contact_name": "王", "contact_phone": "13900000000"})
    market = Market(app, client, customer, staff, {}, admin)

    number = market.paid_order()
    market.post(f"/lab/orders/{number}/accept", market.food_lab)
    run_worker(market)
    sent = [body for path, _, body in FakeWeChat.calls if path.endswith("message/subscribe/send")]
    assert {"o-buyer", UNREACHABLE_OPENID} <= {b["touser"] for b in sent}
    assert len([b for b in sent if b["touser"] == UNREACHABLE_OPENID]) == 3  # the first try and two retries
    customer_inbox = market.get("/me/notifications", market.customer).get_json()["items"]
    assert customer_inbox[0]["kind"] == "order_accepted" and customer_inbox[0]["wechat_status"] == "sent"
    lab_inbox = market.get("/me/notifications", market.food_lab).get_json()["items"]
    assert lab_inbox[0]["kind"] == "order_paid" and lab_inbox[0]["wechat_status"] == "failed"
    # each failed try stays visible in the queue's failed registry
    assert len(FailedJobRegistry(NOTIFICATIONS_QUEUE, connection=app.extensions["platform"].redis)) == 3
