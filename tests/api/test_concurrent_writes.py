"""Concurrent writers through every entry point (sign-in, profile, company) never answer
500 "database is locked" on SQLite: writing units of work take the lock up front."""
from __future__ import annotations

from tests.orders.conftest import CREDIT_CODE, Market, market, market_factory  # noqa: F401
from tests.orders.test_concurrency import _race


def test_forty_concurrent_sign_ins_and_company_updates_all_succeed(market: Market) -> None:
    def sign_in_and_update(i: int) -> tuple[int, int]:
        client = market.app.test_client()
        login = client.post("/api/v1/auth/demo-login", json={"name": f"用户{i}"})
        if login.status_code != 200:
            return login.status_code, 0
        headers = {"Authorization": f"Bearer {login.get_json()['token']}"}
        company = client.put("/api/v1/me/company", headers=headers, json={
            "company_name": f"并发测试{i}有限公司", "credit_code": CREDIT_CODE, "contact_name": f"联系人{i}",
            "contact_phone": "13800000000"})
        return login.status_code, company.status_code

    results = _race(40, sign_in_and_update)
    assert results == [(200, 200)] * 40
