"""Production is the default: without DEMO_MODE=1 the server refuses to start unsafe, and the
demo's doors (demo sign-in, demo chat, sandbox payment page) are shut."""
from __future__ import annotations

from pathlib import Path

import pytest

from app import UnsafeConfiguration, create_app
from core.config import load_settings
from tests.conftest import build_app, stop_app

SAFE = {"SECRET_KEY": "x" * 40, "PAYMENT_PROVIDER": "wechatpay"}


@pytest.mark.parametrize("env, named", [
    ({}, ["SECRET_KEY", "PAYMENT_PROVIDER"]),
    ({"SECRET_KEY": "x" * 40}, ["PAYMENT_PROVIDER"]),
    ({"PAYMENT_PROVIDER": "wechatpay"}, ["SECRET_KEY"]),
    ({"SECRET_KEY": "short", "PAYMENT_PROVIDER": "wechatpay"}, ["SECRET_KEY"]),
    ({"SECRET_KEY": "x" * 40, "PAYMENT_PROVIDER": "sandbox"}, ["PAYMENT_PROVIDER"]),
])
def test_a_server_outside_demo_mode_refuses_to_start_unsafe(tmp_path: Path, env: dict[str, str],
                                                             named: list[str]) -> None:
    with pytest.raises(UnsafeConfiguration) as refused:
        create_app(load_settings({"DATA_DIR": str(tmp_path), **env}))  # DEMO_MODE unset: production
    for variable in named:
        assert variable in str(refused.value)
    assert "DEMO_MODE=1" in str(refused.value)


def test_in_production_the_demo_doors_are_shut(tmp_path: Path) -> None:
    app = build_app(tmp_path, DEMO_MODE="0", **SAFE)
    try:
        client = app.test_client()
        assert client.post("/api/v1/auth/demo-login", json={"role": "platform_admin"}).status_code == 404
        chat = client.post("/demo/chat/messages", json={"text": "苏丹红"})
        assert chat.status_code == 404 and chat.get_json()["error"]["code"] == "demo_off"
        assert client.post("/api/v1/payments/sandbox/X/complete").status_code in (401, 404)
        assert client.get("/healthz").get_json()["mode"] == "production"
    finally:
        stop_app(app)


def test_the_demo_chat_is_rate_limited_like_search(tmp_path: Path) -> None:
    app = build_app(tmp_path, DEMO_MODE="1", RATE_LIMIT_SEARCH_PER_IP="3")
    try:
        client = app.test_client()
        codes = [client.post("/demo/chat/messages", json={"text": "你好"}).status_code for _ in range(5)]
        assert codes[:3] != [429] * 3 and codes[3:] == [429, 429]
        assert client.get("/healthz").get_json()["mode"] == "demo"
    finally:
        stop_app(app)
