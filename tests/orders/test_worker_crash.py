"""The fault drill: a real worker process killed with SIGKILL and Redis cut from the API in the
middle of 100 orders paid through (a stand-in of) WeChat Pay. Afterwards every refund is made
exactly once, nothing due waits long after the worker is back, and the books balance."""
from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable

from sqlalchemy import func, select

from core.models import Job, Refund
from core.models._types import utcnow
from tests.fake_wechatpay import API_KEY, APP_ID, MCH_ID, FakeWeChatPay, signed_payment_notification
from tests.orders.conftest import Market
from tests.orders.test_money_faults import redis_unreachable

ROOT = Path(__file__).resolve().parents[2]
ORDERS = 100


def _start_worker(market: Market, env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    settings = market.app.extensions["platform"].settings
    environ = {**os.environ, **env, "DATA_DIR": str(settings.data_dir), "DATABASE_URL": settings.database_url}
    if settings.redis_url:
        environ["REDIS_URL"] = settings.redis_url
    with log.open("a") as out:
        return subprocess.Popen([str(Path(sys.executable).parent / "flask"), "--app", "app", "worker"], cwd=ROOT,
                                env=environ, stdout=out, stderr=subprocess.STDOUT)


def _count(market: Market, query) -> int:  # type: ignore[no-untyped-def]
    with market.app.extensions["platform"].session_factory() as session:
        return int(session.scalar(query))


def test_refunds_survive_a_killed_worker_and_a_cut_redis(market_factory: Callable[..., Market], fake_wechatpay: str,
                                                        tmp_path: Path) -> None:
    env = {"PAYMENT_PROVIDER": "wechatpay", "WECHATPAY_MCH_ID": MCH_ID, "WECHATPAY_API_KEY": API_KEY,
           "WECHATPAY_APP_ID": APP_ID, "WECHATPAY_API_BASE_URL": fake_wechatpay, "JOB_RETRY_INTERVALS": "1,2,5",
           "REFUND_CHECK_SECONDS": "2"}
    market = market_factory(**env)
    numbers, trades = [], {}
    for i in range(ORDERS):
        number = market.order()["number"]
        trade = market.post(f"/orders/{number}/payment", market.customer).get_json()["payment"]["out_trade_no"]
        ack = market.client.post("/api/v1/payments/wechatpay/notify",
                                 data=signed_payment_notification(API_KEY, trade, 40000, f"42{i:08d}"))
        assert ack.status_code == 200
        numbers.append(number)
        trades[number] = trade

    log = tmp_path / "worker.log"
    worker = _start_worker(market, env, log)
    rejected = numbers[:80]
    try:
        for number in rejected[:30]:
            assert market.post(f"/lab/orders/{number}/reject", market.food_lab, reason="仪器故障").status_code == 200
        worker.kill()  # SIGKILL: no clean-up, a job may be cut mid-way
        worker.wait(10)
        with redis_unreachable(market):
            for number in rejected[30:60]:
                r = market.post(f"/lab/orders/{number}/reject", market.food_lab, reason="仪器故障")
                assert r.status_code == 200, r.get_json()
        for number in rejected[60:]:  # the queue holds these while no worker runs
            assert market.post(f"/lab/orders/{number}/reject", market.food_lab, reason="仪器故障").status_code == 200

        back = time.monotonic()
        worker = _start_worker(market, env, log)
        succeeded = select(func.count(Refund.id)).where(Refund.status == "succeeded")
        overdue = select(func.count(Job.id)).where(Job.status != "done", Job.due_at <= utcnow())
        while time.monotonic() - back < 120:
            if _count(market, succeeded) == len(rejected) and _count(market, overdue) == 0:
                break
            assert worker.poll() is None, log.read_text()[-3000:]
            time.sleep(0.5)
        caught_up = time.monotonic() - back
    finally:
        worker.terminate()
        worker.wait(10)

    assert _count(market, succeeded) == len(rejected), log.read_text()[-3000:]
    print(f"\nworker back: every refund confirmed and nothing due left after {caught_up:.1f} s")
    # the bound: the relay's lease on a killed worker's job (55 s) plus its 2 s pass
    assert caught_up < 90, f"the worker took {caught_up:.0f} s to catch up"
    # at the stand-in: one refund per rejected order, each the whole payment, none twice
    made = list(FakeWeChatPay.refunds.values())
    assert sorted(r["out_trade_no"] for r in made) == sorted(trades[n] for n in rejected)
    assert {int(r["refund_fee"]) for r in made} == {40000}
    market.assert_books_balance()
