"""Mini-program sign-in against a local stand-in for WeChat, tokens, and the company profile."""
import time
from typing import Iterator

import pytest
from flask import Flask

from tests.conftest import build_app, stop_app
from tests.fake_wechat import FakeWeChat

VALID_CODE = "91350100M000100Y43"


@pytest.fixture
def mini_app(tmp_path, fake_wechat: str) -> Iterator[Flask]:  # type: ignore[no-untyped-def]
    app = build_app(tmp_path, WECHAT_MINI_APP_ID="wxmini", WECHAT_MINI_APP_SECRET="s3cret",
                    WECHAT_API_BASE_URL=fake_wechat, TOKEN_TTL_SECONDS="1")
    yield app
    stop_app(app)


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_login_through_code2session_keeps_the_session_key_on_the_server(mini_app: Flask) -> None:
    client = mini_app.test_client()
    resp = client.post("/api/v1/auth/login", json={"code": "abc"})
    assert resp.status_code == 200, resp.get_json()
    body = resp.get_json()
    assert body["user"]["role"] == "enterprise" and "session_key" not in resp.get_data(as_text=True)
    assert mini_app.extensions["platform"].redis.get("wechat:session_key:o-abc") == b"sk-abc"
    calls = [c for c in FakeWeChat.calls if c[0] == "/sns/jscode2session"]
    assert calls and calls[0][1]["js_code"] == ["abc"] and calls[0][1]["appid"] == ["wxmini"]
    assert client.get("/api/v1/me", headers=_bearer(body["token"])).get_json()["id"] == body["user"]["id"]
    # the same WeChat user signs in as the same account
    assert client.post("/api/v1/auth/login", json={"code": "abc"}).get_json()["user"]["id"] == body["user"]["id"]


def test_bad_codes_and_tokens(mini_app: Flask) -> None:
    client = mini_app.test_client()
    bad = client.post("/api/v1/auth/login", json={"code": "bad-code"})
    assert bad.status_code == 401 and bad.get_json()["error"]["code"] == "bad_login_code"
    assert client.post("/api/v1/auth/login", json={}).status_code == 400
    assert client.get("/api/v1/me").status_code == 401
    forged = client.get("/api/v1/me", headers=_bearer("eyJ1aWQiOjF9.forged.signature"))
    assert forged.status_code == 401 and forged.get_json()["error"]["code"] == "invalid_token"
    token = client.post("/api/v1/auth/login", json={"code": "late"}).get_json()["token"]
    time.sleep(2.1)  # TOKEN_TTL_SECONDS=1 in this app
    expired = client.get("/api/v1/me", headers=_bearer(token))
    assert expired.status_code == 401 and expired.get_json()["error"]["code"] == "token_expired"
    # with WeChat configured there is no demo sign-in
    assert client.post("/api/v1/auth/demo-login", json={}).status_code == 404


def test_demo_login_and_company_profile(app: Flask) -> None:
    client = app.test_client()
    signed = client.post("/api/v1/auth/demo-login", json={"name": "张经理"}).get_json()
    auth = _bearer(signed["token"])
    assert signed["user"]["display_name"] == "张经理"
    wrong = client.put("/api/v1/me/company", headers=auth, json={
        "company_name": "重庆某食品有限公司", "credit_code": "91350100M000100Y44",
        "contact_name": "张三", "contact_phone": "023-61234567"})
    assert wrong.status_code == 400 and "credit_code" in wrong.get_json()["error"]["details"]["fields"]
    ok = client.put("/api/v1/me/company", headers=auth, json={
        "company_name": "重庆某食品有限公司", "credit_code": VALID_CODE.lower(),
        "contact_name": "张三", "contact_phone": "023-61234567"})
    assert ok.status_code == 200 and ok.get_json()["company_credit_code"] == VALID_CODE
    assert client.get("/api/v1/me", headers=auth).get_json()["company_name"] == "重庆某食品有限公司"


PRODUCTION = {"DEMO_MODE": "0", "SECRET_KEY": "a-production-secret-of-at-least-32-chars", "PAYMENT_PROVIDER": "wechatpay"}


def test_without_mini_program_settings_login_says_what_is_missing(tmp_path) -> None:  # type: ignore[no-untyped-def]
    app = build_app(tmp_path, **PRODUCTION)
    try:
        resp = app.test_client().post("/api/v1/auth/login", json={"code": "abc"})
        assert resp.status_code == 503 and "WECHAT_MINI_APP_ID" in resp.get_json()["error"]["message"]
        assert app.test_client().post("/api/v1/auth/demo-login", json={}).status_code == 404
    finally:
        stop_app(app)


def test_wechat_unreachable_is_a_503_not_a_crash(tmp_path) -> None:  # type: ignore[no-untyped-def]
    import socket

    with socket.socket() as s:  # a port on 127.0.0.1 that nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    app = build_app(tmp_path, WECHAT_MINI_APP_ID="wxmini", WECHAT_MINI_APP_SECRET="s",
                    WECHAT_API_BASE_URL=f"http://127.0.0.1:{port}/")
    try:
        resp = app.test_client().post("/api/v1/auth/login", json={"code": "abc"})
        assert resp.status_code == 503 and resp.get_json()["error"]["code"] == "wechat_unreachable"
    finally:
        stop_app(app)
