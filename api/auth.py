"""Mini-program sign-in (wx.login -> code2session -> our token), the demo
sign-in, and the signed-in user's profile and company."""
from __future__ import annotations

import secrets
from typing import Any, Literal, TypeVar

from flask import Blueprint, current_app, jsonify, request
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session

from api.openapi import documented
from api.schemas import SearchHistory
from api.validation import parse_json_body
from core.db import unit_of_work
from core.errors import NotFound, Unauthorized
from core.models import User
from core.services.people.auth import demo_user, issue_token, revoke_sessions, user_for_openid, user_for_token
from core.services.people.companies import claim_company
from core.services.people.rate_limit import enforce
from core.services.people.sign_in import sign_in_with_password
from core.services.catalog.search_log import search_history
from core.wechat_client import code_to_session

auth_bp = Blueprint("auth", __name__, url_prefix="/api/v1")

SESSION_KEY_SECONDS = 3 * 24 * 3600
B = TypeVar("B", bound=BaseModel)


class LoginBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    code: str = Field(min_length=1, max_length=128, description="the code from wx.login()")


class DemoLoginBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(default="演示用户", min_length=1, max_length=50)
    role: Literal["enterprise", "lab_staff", "platform_admin"] = "enterprise"
    institution: str | None = Field(default=None, max_length=64, description="lab staff: the institution's code")


class PasswordLoginBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    username: str = Field(min_length=1, max_length=100)
    password: str = Field(min_length=1, max_length=200)


class CompanyBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    company_name: str = Field(max_length=200)
    credit_code: str = Field(max_length=18)
    contact_name: str = Field(max_length=100)
    contact_phone: str = Field(max_length=32)


class Profile(BaseModel):
    id: int
    display_name: str
    role: str
    company_name: str | None
    company_credit_code: str | None
    contact_name: str | None
    contact_phone: str | None


class SignedIn(BaseModel):
    token: str
    expires_in: int
    user: Profile


class SignedOut(BaseModel):
    signed_out: bool = Field(description="every token of this user, on every device, no longer works")


def _body(model: type[B]) -> B:
    return parse_json_body(model, request.get_json(silent=True))


def _profile(user: User) -> Profile:
    return Profile(id=user.id, display_name=user.display_name, role=user.role.value, company_name=user.company_name,
                   company_credit_code=user.company_credit_code, contact_name=user.contact_name,
                   contact_phone=user.contact_phone)


def _signed_in(user: User) -> Any:
    settings = current_app.extensions["platform"].settings
    body = SignedIn(token=issue_token(settings.secret_key, user), expires_in=settings.token_ttl, user=_profile(user))
    return jsonify(body.model_dump())


def optional_signed_in_user_id() -> int | None:
    """The signed-in user's id if the request carries a token (a bad token is
    still an error); anonymous requests never open a database session."""
    if not request.headers.get("Authorization"):
        return None
    with unit_of_work(current_app.extensions["platform"].session_factory, write=False) as session:
        return signed_in_user(session).id


def signed_in_user(session: Session) -> User:
    """The user of the request's bearer token."""
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("请先登录：请求头带上 Authorization: Bearer <token>（token 由 /api/v1/auth/login 获取）。")
    settings = current_app.extensions["platform"].settings
    return user_for_token(session, settings.secret_key, token.strip(), settings.token_ttl)


@auth_bp.post("/auth/login")
@documented("/auth/login", "post", "Sign in with the code from wx.login()", SignedIn, errors=(400, 401, 429, 503), body=LoginBody)
def login():  # type: ignore[no-untyped-def]
    platform = current_app.extensions["platform"]
    enforce(platform.redis, "login-ip", request.remote_addr or "-", platform.settings.login_per_ip)
    body = _body(LoginBody)
    answer = code_to_session(platform.settings, platform.redis, body.code)
    # the session key stays on the server: it decrypts the user's data, it is never sent back
    platform.redis.set(f"wechat:session_key:{answer['openid']}", answer["session_key"], ex=SESSION_KEY_SECONDS)
    with unit_of_work(platform.session_factory) as session:
        user = user_for_openid(session, answer["openid"])
    return _signed_in(user)


@auth_bp.post("/auth/demo-login")
@documented("/auth/demo-login", "post", "Sign in without WeChat (demo mode only)", SignedIn, errors=(400, 404, 429), body=DemoLoginBody)
def demo_login():  # type: ignore[no-untyped-def]
    platform = current_app.extensions["platform"]
    settings = platform.settings
    enforce(platform.redis, "login-ip", request.remote_addr or "-", settings.login_per_ip)
    if settings.wechat.get("WECHAT_MINI_APP_ID") or not settings.demo_mode:
        raise NotFound("演示登录已关闭：本平台通过微信登录。", code="demo_login_off")
    body = _body(DemoLoginBody)
    with unit_of_work(current_app.extensions["platform"].session_factory) as session:
        user = demo_user(session, "demo-" + secrets.token_hex(8), body.name, body.role, body.institution)
    return _signed_in(user)


@auth_bp.post("/auth/password-login")
@documented("/auth/password-login", "post", "Sign in with a username and password (lab staff, admins); too many "
            "failures lock the account (from any address) and the address (for any account) for a while",
            SignedIn, errors=(400, 401, 429), body=PasswordLoginBody)
def password_login():  # type: ignore[no-untyped-def]
    platform = current_app.extensions["platform"]
    address = request.remote_addr or "-"
    enforce(platform.redis, "login-ip", address, platform.settings.login_per_ip)
    body = _body(PasswordLoginBody)
    user = sign_in_with_password(platform.session_factory, platform.redis, platform.settings, body.username,
                                 body.password, address)
    return _signed_in(user)


@auth_bp.post("/auth/logout")
@documented("/auth/logout", "post", "Sign out everywhere: every token of the signed-in user stops working",
            SignedOut, errors=(401,), signed_in=True)
def logout():  # type: ignore[no-untyped-def]
    with unit_of_work(current_app.extensions["platform"].session_factory) as session:
        revoke_sessions(session, signed_in_user(session))
    return jsonify(SignedOut(signed_out=True).model_dump())


@auth_bp.get("/me")
@documented("/me", "get", "The signed-in user", Profile, errors=(401,), signed_in=True)
def me():  # type: ignore[no-untyped-def]
    with unit_of_work(current_app.extensions["platform"].session_factory, write=False) as session:
        return jsonify(_profile(signed_in_user(session)).model_dump())


@auth_bp.put("/me/company")
@documented("/me/company", "put", "Set my company's invoice details (cash orders); the code of a company already "
            "on the platform files a join request, which gives no voucher access until its admin approves",
            Profile, errors=(400, 401, 403, 409), body=CompanyBody, signed_in=True)
def put_company():  # type: ignore[no-untyped-def]
    body = _body(CompanyBody)
    with unit_of_work(current_app.extensions["platform"].session_factory) as session:
        user = claim_company(session, signed_in_user(session), body.company_name, body.credit_code,
                             body.contact_name, body.contact_phone)
        return jsonify(_profile(user).model_dump())


@auth_bp.get("/me/searches")
@documented("/me/searches", "get", "The signed-in user's recent searches, newest first", SearchHistory, errors=(401,), signed_in=True)
def my_searches():  # type: ignore[no-untyped-def]
    platform = current_app.extensions["platform"]
    with unit_of_work(platform.session_factory, write=False) as session:
        user = signed_in_user(session)
    return jsonify(SearchHistory(items=search_history(platform.redis, user.id)).model_dump())
