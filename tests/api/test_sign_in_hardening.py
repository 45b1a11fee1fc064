"""Sign-in behind a proxy, as the security audit asked: the client address comes only from trusted proxy
hops, wrong passwords are limited per account and per address, an unknown username looks exactly like a
wrong password, and sign-out, disabling and password resets revoke tokens at once."""
from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Callable

import pytest
from flask import Flask
from flask.testing import FlaskClient

from core.config import load_settings
from core.db import unit_of_work
from core.models import Role, User
from core.services.people import users as users_service
from tests.conftest import cli

CJK = re.compile(r"[\u4e00-\u9fff]")
PASSWORD = "right-pass-123"


def _client(app: Flask, address: str) -> FlaskClient:
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = address
    return client


def _login(app: Flask, username: str, password: str, address: str = "10.0.0.1") -> Any:
    return _client(app, address).post("/api/v1/auth/password-login", json={"username": username, "password": password})


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _admin(app: Flask, username: str, password: str = PASSWORD) -> None:
    result = cli(app, "users", "create-admin", username, "--password", password)
    assert result.exit_code == 0, result.output


def _error(response: Any, status: int, code: str) -> dict[str, Any]:
    body = response.get_json()
    assert response.status_code == status, body
    assert body["error"]["code"] == code and CJK.search(body["error"]["message"]), body
    return body["error"]


# 1. the client address: X-Forwarded-For only through trusted proxy hops

def _demo_login(app: Flask, remote: str, forwarded: str) -> int:
    return _client(app, remote).post("/api/v1/auth/demo-login", json={},
                                     headers={"X-Forwarded-For": forwarded}).status_code


def test_without_trusted_proxies_a_client_cannot_pick_its_rate_limit_bucket(
        tmp_path: Path, app_factory: Callable[..., Flask]) -> None:
    app = app_factory(tmp_path, RATE_LIMIT_LOGIN_PER_IP="2")
    # a new made-up X-Forwarded-For on every request still counts against the connection's address
    codes = [_demo_login(app, "10.9.0.1", f"203.0.113.{i}") for i in range(3)]
    assert codes == [200, 200, 429]
    assert _demo_login(app, "10.9.0.2", "203.0.113.1") == 200  # another connection is another bucket


def test_behind_one_trusted_proxy_each_client_has_its_own_bucket(
        tmp_path: Path, app_factory: Callable[..., Flask]) -> None:
    app = app_factory(tmp_path, RATE_LIMIT_LOGIN_PER_IP="2", TRUSTED_PROXY_HOPS="1")
    proxy = "10.0.0.254"  # every request reaches us from the proxy
    assert [_demo_login(app, proxy, f"198.51.100.{i}") for i in range(1, 5)] == [200] * 4
    assert _demo_login(app, proxy, "198.51.100.1") == 200
    # the client prepends a made-up address; only the hop our proxy appended is believed
    assert _demo_login(app, proxy, "192.0.2.77, 198.51.100.1") == 429
    assert _demo_login(app, proxy, "198.51.100.9, 198.51.100.2") == 200


@pytest.mark.parametrize("value", ["-1", "two", "1.5"])
def test_a_bad_proxy_hop_count_is_refused(tmp_path: Path, value: str) -> None:
    with pytest.raises(ValueError, match="TRUSTED_PROXY_HOPS"):
        load_settings({"DATA_DIR": str(tmp_path), "TRUSTED_PROXY_HOPS": value})
    assert load_settings({"DATA_DIR": str(tmp_path)}).trusted_proxy_hops == 0
    assert load_settings({"DATA_DIR": str(tmp_path), "TRUSTED_PROXY_HOPS": "2"}).trusted_proxy_hops == 2


# 2. wrong passwords limited per account (any address) and per address (any account)

def test_many_addresses_cannot_keep_guessing_one_password(tmp_path: Path, app_factory: Callable[..., Flask]) -> None:
    app = app_factory(tmp_path, LOGIN_FAILURES_PER_ACCOUNT="3", LOGIN_FAILURES_PER_IP="0")
    _admin(app, "alice")
    _admin(app, "bob")
    for i in range(3):
        _error(_login(app, "alice", f"guess-{i}", address=f"10.1.0.{i}"), 401, "bad_credentials")
    # a fresh address, even with the right password, waits for the window to end
    locked = _login(app, "alice", PASSWORD, address="10.1.0.99")
    error = _error(locked, 429, "too_many_failures")
    assert 1 <= error["details"]["retry_after"] <= 15 * 60
    assert locked.headers["Retry-After"] == str(error["details"]["retry_after"])
    assert "分钟" in error["message"]
    # one locked account locks nobody else, not even from the attackers' addresses
    assert _login(app, "bob", PASSWORD, address="10.1.0.1").status_code == 200
    # an unknown username locks the same way: a lock says nothing about whether the account exists
    for i in range(3):
        _error(_login(app, "nobody", "guess", address=f"10.2.0.{i}"), 401, "bad_credentials")
    unknown = _error(_login(app, "nobody", "guess", address="10.2.0.99"), 429, "too_many_failures")
    assert unknown["message"] == error["message"]


def test_one_address_cannot_lock_every_account(tmp_path: Path, app_factory: Callable[..., Flask]) -> None:
    app = app_factory(tmp_path, LOGIN_FAILURES_PER_ACCOUNT="10", LOGIN_FAILURES_PER_IP="4")
    _admin(app, "carol")
    for name in ("u1", "u2", "u3", "carol"):
        _error(_login(app, name, "guess", address="10.3.0.1"), 401, "bad_credentials")
    # that address is now stopped before it can lock anyone, and its refused tries count against nobody …
    _error(_login(app, "dave", "guess", address="10.3.0.1"), 429, "too_many_failures")
    for _ in range(12):
        _error(_login(app, "carol", "guess", address="10.3.0.1"), 429, "too_many_failures")
    # … and carol, with one failure on her account, still signs in from her own address
    assert _login(app, "carol", PASSWORD, address="10.3.0.2").status_code == 200


def test_parallel_guesses_cannot_slip_past_the_account_limit(
        tmp_path: Path, app_factory: Callable[..., Flask]) -> None:
    app = app_factory(tmp_path, LOGIN_FAILURES_PER_ACCOUNT="3", LOGIN_FAILURES_PER_IP="0")
    _admin(app, "lena")
    with ThreadPoolExecutor(max_workers=10) as pool:
        codes = sorted(pool.map(lambda i: _login(app, "lena", f"guess-{i}", address=f"10.5.0.{i}").status_code,
                                range(10)))
    assert codes == [401] * 3 + [429] * 7


def test_a_successful_sign_in_is_not_a_failure(tmp_path: Path, app_factory: Callable[..., Flask]) -> None:
    app = app_factory(tmp_path, LOGIN_FAILURES_PER_ACCOUNT="3", LOGIN_FAILURES_PER_IP="3")
    _admin(app, "erin")
    assert [_login(app, "erin", PASSWORD).status_code for _ in range(5)] == [200] * 5
    # the owner getting in clears the account's earlier typos
    for _ in range(2):
        _login(app, "erin", "typo", address="10.4.0.1")
    assert _login(app, "erin", PASSWORD, address="10.4.0.1").status_code == 200
    for _ in range(2):
        _login(app, "erin", "typo", address="10.4.0.2")
    assert _login(app, "erin", PASSWORD, address="10.4.0.2").status_code == 200


# 3. an unknown, disabled or password-less account answers like a wrong password, after the same hash check

def test_unknown_users_cost_the_same_hash_check_and_get_the_same_answer(
        tmp_path: Path, app_factory: Callable[..., Flask], monkeypatch: pytest.MonkeyPatch) -> None:
    app = app_factory(tmp_path, LOGIN_FAILURES_PER_ACCOUNT="0", LOGIN_FAILURES_PER_IP="0")
    _admin(app, "frank")
    _admin(app, "gone")
    assert cli(app, "users", "disable", "gone").exit_code == 0
    with unit_of_work(app.extensions["platform"].session_factory) as session:
        session.add(User(username="nopass", display_name="无密码", role=Role.lab_staff))

    checked: list[str] = []
    real_check = users_service.check_password_hash

    def counting_check(pwhash: str, password: str) -> bool:
        checked.append(pwhash)
        return real_check(pwhash, password)

    monkeypatch.setattr(users_service, "check_password_hash", counting_check)
    answers = {}
    for case, (username, password) in {"wrong password": ("frank", "not-it-123"), "unknown": ("nobody", PASSWORD),
                                       "disabled": ("gone", PASSWORD), "no password": ("nopass", PASSWORD)}.items():
        before = len(checked)
        response = _login(app, username, password)
        assert response.status_code == 401, case
        assert len(checked) == before + 1, f"{case}: the password hash was not checked"
        answers[case] = response.get_json()
    assert all(answer == answers["wrong password"] for answer in answers.values()), answers
    assert answers["unknown"]["error"]["code"] == "bad_credentials"
    # the stand-in hash is made with the same algorithm and parameters as a real one
    real_hash, dummy_hash = checked[0], checked[1]
    assert dummy_hash.split("$")[0] == real_hash.split("$")[0] and dummy_hash != real_hash


# 4. sign-out, disabling and password resets revoke tokens at once

def _token(app: Flask, username: str, password: str = PASSWORD) -> str:
    response = _login(app, username, password)
    assert response.status_code == 200, response.get_json()
    return response.get_json()["token"]


def _me(app: Flask, token: str) -> Any:
    return app.test_client().get("/api/v1/me", headers=_bearer(token))


def test_sign_out_revokes_every_token_of_the_user(tmp_path: Path, app_factory: Callable[..., Flask]) -> None:
    app = app_factory(tmp_path)
    _admin(app, "gina")
    _admin(app, "hank")
    phone, laptop, other = _token(app, "gina"), _token(app, "gina"), _token(app, "hank")
    assert _me(app, phone).status_code == 200
    out = app.test_client().post("/api/v1/auth/logout", headers=_bearer(phone))
    assert out.status_code == 200 and out.get_json() == {"signed_out": True}
    for token in (phone, laptop):
        _error(_me(app, token), 401, "token_revoked")
    _error(app.test_client().post("/api/v1/auth/logout", headers=_bearer(phone)), 401, "token_revoked")
    assert _me(app, other).status_code == 200  # another user stays signed in
    assert _me(app, _token(app, "gina")).status_code == 200  # signing in again works
    _error(app.test_client().post("/api/v1/auth/logout"), 401, "unauthorized")


def test_a_demo_user_signs_out_too(app: Flask) -> None:
    token = app.test_client().post("/api/v1/auth/demo-login", json={}).get_json()["token"]
    assert app.test_client().post("/api/v1/auth/logout", headers=_bearer(token)).status_code == 200
    _error(_me(app, token), 401, "token_revoked")


def test_a_password_reset_revokes_old_tokens_and_the_old_password(app: Flask) -> None:
    _admin(app, "ivan")
    old = _token(app, "ivan")
    short = cli(app, "users", "reset-password", "ivan", "--password", "short")
    assert short.exit_code == 1 and "密码至少 8 个字符" in short.output
    assert _me(app, old).status_code == 200  # a refused reset changes nothing
    done = cli(app, "users", "reset-password", "ivan", "--password", "new-pass-456")
    assert done.exit_code == 0, done.output
    _error(_me(app, old), 401, "token_revoked")
    _error(_login(app, "ivan", PASSWORD), 401, "bad_credentials")
    assert _me(app, _token(app, "ivan", "new-pass-456")).status_code == 200


def test_disabling_a_user_revokes_their_tokens_at_once(app: Flask) -> None:
    _admin(app, "judy")
    old = _token(app, "judy")
    assert cli(app, "users", "disable", "judy").exit_code == 0
    assert _me(app, old).status_code == 401
    _error(_login(app, "judy", PASSWORD), 401, "bad_credentials")
    assert cli(app, "users", "enable", "judy").exit_code == 0
    _error(_me(app, old), 401, "token_revoked")  # enabling again does not bring old tokens back
    assert _me(app, _token(app, "judy")).status_code == 200
    missing = cli(app, "users", "disable", "nobody")
    assert missing.exit_code == 1 and "没有用户名" in missing.output


def test_an_operator_can_sign_a_user_out_everywhere(app: Flask) -> None:
    _admin(app, "kate")
    token = _token(app, "kate")
    assert cli(app, "users", "sign-out", "kate").exit_code == 0
    _error(_me(app, token), 401, "token_revoked")
