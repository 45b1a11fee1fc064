"""Staff bind their WeChat by scanning the workbench's QR code: the code comes from the WeChat
stand-in, the scan arrives at the real /wechat endpoint, signed as WeChat signs it."""
from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone
from itertools import count
from pathlib import Path
from typing import Callable
from urllib.parse import unquote

import pytest
import xmltodict
from flask import Flask

from core.models import User
from core.services.people.users import create_admin, create_staff
from core.services.people.wechat_binding import complete_binding
from tests.bot.test_wechat import TOKEN, _event, _query
from tests.conftest import MINI_CATALOG, cli
from tests.fake_wechat import FakeWeChat

QR_BASE = "https://qr.example.test/cgi-bin/showqrcode"
PASSWORD = "a-long-password"
_clock = count(int(time.time()))  # each event its own CreateTime, as WeChat stamps them


def _app(app_factory: Callable[..., Flask], data_dir: Path, **env: str) -> Flask:
    app = app_factory(data_dir, RATE_LIMIT_LOGIN_PER_IP="0", **env)
    assert cli(app, "catalog", "import", "--approve", str(MINI_CATALOG)).exit_code == 0
    with app.extensions["platform"].transaction() as session:
        create_staff(session, "wang", PASSWORD, "T-CQ-FOOD", display_name="王实验员")
        create_staff(session, "li", PASSWORD, "T-CQ-FOOD", display_name="李实验员")
        create_admin(session, "ops", PASSWORD, display_name="平台运营")
    return app


@pytest.fixture
def app(app_factory: Callable[..., Flask], tmp_path: Path, fake_wechat: str) -> Flask:
    return _app(app_factory, tmp_path, WECHAT_TOKEN=TOKEN, WECHAT_APP_ID="wx-official", WECHAT_APP_SECRET="secret",
                WECHAT_API_BASE_URL=fake_wechat, WECHAT_QRCODE_URL_BASE=QR_BASE)


def _sign_in(app: Flask, username: str) -> dict[str, str]:
    answer = app.test_client().post("/api/v1/auth/password-login", json={"username": username, "password": PASSWORD})
    assert answer.status_code == 200, answer.get_json()
    return {"Authorization": f"Bearer {answer.get_json()['token']}"}


def _scan(app: Flask, scene: str, openid: str, subscribe: bool = False) -> str:
    """What the person who scanned reads in WeChat."""
    xml = (_event("subscribe", next(_clock), key=f"qrscene_{scene}", user=openid) if subscribe
           else _event("SCAN", next(_clock), key=scene, user=openid))
    resp = app.test_client().post("/wechat", query_string=_query(), data=xml)
    assert resp.status_code == 200
    return xmltodict.parse(resp.get_data(as_text=True))["xml"]["Content"]


def _openid_of(app: Flask, username: str) -> str | None:
    with app.extensions["platform"].transaction(write=False) as session:
        return session.query(User).filter_by(username=username).one().official_openid


def test_scanning_the_workbench_code_binds_the_account(app: Flask) -> None:
    client, wang = app.test_client(), _sign_in(app, "wang")
    assert client.get("/api/v1/lab/wechat-binding", headers=wang).get_json()["bound"] is False

    made = client.post("/api/v1/lab/wechat-binding", headers=wang)
    assert made.status_code == 201
    binding = made.get_json()
    assert binding["scene"].startswith("bind:")
    # the code WeChat made is temporary, string-scened, for ten minutes, and for this scene
    asked = [body for path, _, body in FakeWeChat.calls if path == "/cgi-bin/qrcode/create"]
    assert asked == [{"expire_seconds": 600, "action_name": "QR_STR_SCENE",
                      "action_info": {"scene": {"scene_str": binding["scene"]}}}]
    assert binding["qr_url"].startswith(QR_BASE + "?ticket=") and "+" not in binding["qr_url"]
    assert unquote(binding["qr_url"].split("ticket=")[1]).startswith("gQH/ticket+")
    expires = datetime.fromisoformat(binding["expires_at"])
    assert binding["expires_at"].endswith("+08:00")
    assert timedelta(minutes=9) < expires - datetime.now(timezone.utc) <= timedelta(minutes=10)

    reply = _scan(app, binding["scene"], "oStaff-wang")
    assert "已绑定到平台账号 王实验员" in reply and "新订单" in reply and "评价提醒会发到这里" in reply
    assert _openid_of(app, "wang") == "oStaff-wang"
    assert client.get("/api/v1/lab/wechat-binding", headers=wang).get_json()["bound"] is True

    # the same code a second time: it was for one use
    again = _scan(app, binding["scene"], "oSomeoneElse")
    assert "刷新二维码" in again and _openid_of(app, "wang") == "oStaff-wang"


def test_a_scan_that_follows_the_account_binds_too(app: Flask) -> None:
    scene = app.test_client().post("/api/v1/lab/wechat-binding", headers=_sign_in(app, "li")).get_json()["scene"]
    assert "已绑定到平台账号 李实验员" in _scan(app, scene, "oStaff-li", subscribe=True)
    assert _openid_of(app, "li") == "oStaff-li"


def test_an_expired_or_unknown_code_is_refused(app: Flask) -> None:
    scene = app.test_client().post("/api/v1/lab/wechat-binding", headers=_sign_in(app, "wang")).get_json()["scene"]
    # ten minutes pass: the scene's time in Redis runs out
    app.extensions["platform"].redis.pexpire(f"wechat:bind:scene:{scene}", 1)
    time.sleep(0.05)
    assert "二维码已过期或已使用" in _scan(app, scene, "oLate") and "工作台" in _scan(app, "bind:made-up", "oLate")
    assert _openid_of(app, "wang") is None


def test_a_new_code_replaces_the_previous_one(app: Flask) -> None:
    client, wang = app.test_client(), _sign_in(app, "wang")
    first = client.post("/api/v1/lab/wechat-binding", headers=wang).get_json()["scene"]
    second = client.post("/api/v1/lab/wechat-binding", headers=wang).get_json()["scene"]
    assert first != second
    assert "刷新二维码" in _scan(app, first, "oStaff-wang")
    assert "已绑定" in _scan(app, second, "oStaff-wang")


def test_one_wechat_reaches_one_staff_account(app: Flask) -> None:
    client = app.test_client()
    wang, li = _sign_in(app, "wang"), _sign_in(app, "li")
    _scan(app, client.post("/api/v1/lab/wechat-binding", headers=wang).get_json()["scene"], "oShared")
    # the same phone now scans Li's code: the binding moves to Li
    assert "李实验员" in _scan(app, client.post("/api/v1/lab/wechat-binding", headers=li).get_json()["scene"], "oShared")
    assert _openid_of(app, "li") == "oShared" and _openid_of(app, "wang") is None
    assert client.get("/api/v1/lab/wechat-binding", headers=wang).get_json()["bound"] is False


def test_unbinding_and_who_may_bind(app: Flask) -> None:
    client, wang = app.test_client(), _sign_in(app, "wang")
    _scan(app, client.post("/api/v1/lab/wechat-binding", headers=wang).get_json()["scene"], "oStaff-wang")
    gone = client.delete("/api/v1/lab/wechat-binding", headers=wang)
    assert gone.status_code == 200 and gone.get_json()["bound"] is False and "站内通知" in gone.get_json()["message"]
    assert _openid_of(app, "wang") is None

    # platform admins bind like lab staff; a customer has no workbench
    assert client.post("/api/v1/lab/wechat-binding", headers=_sign_in(app, "ops")).status_code == 201
    customer = client.post("/api/v1/auth/demo-login", json={"name": "客户", "role": "enterprise"}).get_json()["token"]
    refused = client.post("/api/v1/lab/wechat-binding", headers={"Authorization": f"Bearer {customer}"})
    assert refused.status_code == 403 and "实验室人员" in refused.get_json()["error"]["message"]
    assert client.post("/api/v1/lab/wechat-binding").status_code == 401


def test_the_demo_without_wechat_gets_a_scene_to_simulate(app_factory: Callable[..., Flask], tmp_path: Path) -> None:
    app = _app(app_factory, tmp_path)
    made = app.test_client().post("/api/v1/lab/wechat-binding", headers=_sign_in(app, "wang"))
    assert made.status_code == 201
    binding = made.get_json()
    assert binding["qr_url"] is None and "未配置" in binding["message"] and binding["scene"].startswith("bind:")
    platform = app.extensions["platform"]
    with platform.transaction() as session:  # what a simulated scan does
        bound = complete_binding(session, platform.redis, binding["scene"], "demo-wang")
    assert bound is not None and bound.display_name == "王实验员"
    assert _openid_of(app, "wang") == "demo-wang"
