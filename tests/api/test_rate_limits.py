"""Rate limits in Redis answer 429 in the error shape, per IP and per signed-in user."""
from typing import Iterator

import pytest
from flask import Flask

from tests.conftest import build_catalog_app, stop_app


@pytest.fixture
def limited_app(tmp_path) -> Iterator[Flask]:  # type: ignore[no-untyped-def]
    app = build_catalog_app(tmp_path, RATE_LIMIT_SEARCH_PER_IP="3", RATE_LIMIT_SEARCH_PER_USER="2", RATE_LIMIT_LOGIN_PER_IP="2")
    conn = app.extensions["platform"].redis
    for key in conn.scan_iter("ratelimit:*"):  # counters other tests left in a shared Redis
        conn.delete(key)
    yield app
    stop_app(app)


def _search(app: Flask, ip: str, headers: dict[str, str] | None = None):  # type: ignore[no-untyped-def]
    return app.test_client().get("/api/v1/search", query_string={"q": "晶型"}, headers=headers or {},
                                 environ_overrides={"REMOTE_ADDR": ip})


def test_search_is_limited_per_ip(limited_app: Flask) -> None:
    assert [_search(limited_app, "10.0.0.1").status_code for _ in range(3)] == [200, 200, 200]
    blocked = _search(limited_app, "10.0.0.1")
    assert blocked.status_code == 429
    err = blocked.get_json()["error"]
    assert err["code"] == "rate_limited" and err["details"]["limit_per_minute"] == 3
    assert 1 <= int(blocked.headers["Retry-After"]) <= 61
    assert _search(limited_app, "10.0.0.2").status_code == 200  # another address is not affected


def test_search_is_limited_per_user_across_addresses(limited_app: Flask) -> None:
    token = limited_app.test_client().post("/api/v1/auth/demo-login", json={}, environ_overrides={"REMOTE_ADDR": "10.1.0.9"}).get_json()["token"]
    auth = {"Authorization": f"Bearer {token}"}
    assert _search(limited_app, "10.1.0.1", auth).status_code == 200
    assert _search(limited_app, "10.1.0.2", auth).status_code == 200
    assert _search(limited_app, "10.1.0.3", auth).status_code == 429


def test_sign_in_is_limited_per_ip(limited_app: Flask) -> None:
    client = limited_app.test_client()
    codes = [client.post("/api/v1/auth/demo-login", json={}, environ_overrides={"REMOTE_ADDR": "10.2.0.1"}).status_code
             for _ in range(3)]
    assert codes == [200, 200, 429]
