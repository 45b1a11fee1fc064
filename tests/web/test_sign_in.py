"""Console sign-in as its users meet it: the right home per role, Chinese refusals, CSRF on every form,
a cookie scripts cannot read, sign-out, and sessions that end when the account is disabled."""
from __future__ import annotations

from typing import Callable

from flask import Flask
from flask.testing import FlaskClient

from tests.conftest import cli
from tests.web.conftest import ACCOUNTS, csrf_of, sign_in


def test_each_role_lands_on_its_own_home(client_as: Callable[[str], FlaskClient]) -> None:
    assert client_as("lab_staff").get("/").headers["Location"].endswith("/workbench/today")
    assert client_as("platform_admin").get("/").headers["Location"].endswith("/console/dashboard")
    page = client_as("lab_staff").get("/workbench/today").get_data(as_text=True)
    assert "今日待办" in page and "待受理" in page


def test_anonymous_visitors_are_sent_to_sign_in_and_come_back(web_app: Flask) -> None:
    client = web_app.test_client()
    response = client.get("/workbench/today")
    assert response.status_code == 302 and "/login?next=/workbench/today" in response.headers["Location"]
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    back = client.post("/login?next=/workbench/today", data={"username": "lab", "password": "demo-lab-2026",
                                                             "csrf_token": csrf_of(page)})
    assert back.headers["Location"] == "/workbench/today"
    # a ?next= pointing elsewhere is not followed
    page = client.get("/login").get_data(as_text=True)
    away = client.post("/login?next=https://evil.example/", data={"username": "lab", "password": "demo-lab-2026",
                                                                 "csrf_token": csrf_of(page)})
    assert "evil" not in away.headers["Location"]


def test_a_wrong_password_is_said_in_chinese_and_keeps_the_username(web_app: Flask) -> None:
    client = web_app.test_client()
    page = client.get("/login").get_data(as_text=True)
    response = client.post("/login", data={"username": "lab", "password": "wrong-password", "csrf_token": csrf_of(page)})
    html = response.get_data(as_text=True)
    assert response.status_code == 401 and "用户名或密码错误" in html and 'value="lab"' in html


def test_a_form_without_its_csrf_token_is_refused_in_chinese(web_app: Flask) -> None:
    response = web_app.test_client().post("/login", data={"username": "lab", "password": "demo-lab-2026"})
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert "表单已过期" in html and "Traceback" not in html


def test_the_session_cookie_is_http_only_and_same_site(web_app: Flask) -> None:
    client = web_app.test_client()
    page = client.get("/login").get_data(as_text=True)
    response = client.post("/login", data={"username": "lab", "password": "demo-lab-2026", "csrf_token": csrf_of(page)})
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_a_page_of_another_role_is_a_chinese_403_page(client_as: Callable[[str], FlaskClient]) -> None:
    response = client_as("lab_staff").get("/console/dashboard")
    html = response.get_data(as_text=True)
    assert response.status_code == 403 and "没有权限" in html and response.mimetype == "text/html"
    assert client_as("platform_admin").get("/workbench/today").status_code == 403
    missing = client_as("platform_admin").get("/console/no-such-page")
    assert missing.status_code == 404 and "页面不存在" in missing.get_data(as_text=True)


def test_pages_carry_a_content_security_policy_and_are_not_cached(client_as: Callable[[str], FlaskClient]) -> None:
    response = client_as("lab_staff").get("/workbench/today")
    assert "script-src 'self'" in response.headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
    assert response.headers["Cache-Control"] == "no-store"


def test_sign_out_ends_the_session(client_as: Callable[[str], FlaskClient]) -> None:
    client = client_as("lab_staff")
    page = client.get("/workbench/today").get_data(as_text=True)
    assert client.post("/logout", data={"csrf_token": csrf_of(page)}).status_code == 302
    assert client.get("/workbench/today").status_code == 302


def test_disabling_an_account_ends_its_open_sessions(web_app: Flask, client_as: Callable[[str], FlaskClient]) -> None:
    client = client_as("lab_staff")
    assert client.get("/workbench/today").status_code == 200
    assert cli(web_app, "users", "disable", ACCOUNTS["lab_staff"][0]).exit_code == 0
    assert client.get("/workbench/today").status_code == 302


def test_repeated_wrong_passwords_lock_the_account(web_app: Flask) -> None:
    client = web_app.test_client()
    for _ in range(web_app.extensions["platform"].settings.login_failures_per_account):
        page = client.get("/login").get_data(as_text=True)
        client.post("/login", data={"username": "admin", "password": "nope-nope", "csrf_token": csrf_of(page)})
    page = client.get("/login").get_data(as_text=True)
    response = client.post("/login", data={"username": "admin", "password": ACCOUNTS["platform_admin"][1],
                                           "csrf_token": csrf_of(page)})
    assert response.status_code == 429 and "已暂时锁定" in response.get_data(as_text=True)
    # other accounts are not locked with it
    sign_in(web_app.test_client(), *ACCOUNTS["lab_staff"])
