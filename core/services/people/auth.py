"""Sign-in for the mini-program: WeChat identity -> our own signed, expiring token."""
from __future__ import annotations

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy import select
from sqlalchemy.orm import Session

from core.errors import InvalidInput, Unauthorized
from core.models import Institution, Role, User

_SALT = "api-token"


def user_for_openid(session: Session, openid: str, display_name: str = "微信用户") -> User:
    """The enterprise user behind a WeChat openid, created on first sign-in."""
    user = session.scalar(select(User).where(User.wechat_openid == openid))
    if user is None:
        user = User(wechat_openid=openid, display_name=display_name, role=Role.enterprise)
        session.add(user)
        session.flush()
    return user


def demo_user(session: Session, openid: str, display_name: str, role: str, institution_code: str | None) -> User:
    """Demo mode only: a user of any role, so one person can play customer, lab and admin."""
    user = user_for_openid(session, openid, display_name)
    user.role = Role(role)
    if user.role == Role.lab_staff:
        institution = session.scalar(select(Institution).where(Institution.code == (institution_code or "")))
        if institution is None:
            raise InvalidInput("实验室人员须填写一个已有机构的编号。", code="institution_not_found")
        user.institution_id = institution.id
    session.flush()
    return user


def issue_token(secret: str, user: User) -> str:
    """A signed token naming the user and their session version (see revoke_sessions)."""
    return URLSafeTimedSerializer(secret, salt=_SALT).dumps({"uid": user.id, "sv": user.session_version or 0})


def user_for_token(session: Session, secret: str, token: str, max_age: int) -> User:
    try:
        data = URLSafeTimedSerializer(secret, salt=_SALT).loads(token, max_age=max_age)
    except SignatureExpired:
        raise Unauthorized("登录已过期，请重新登录。", code="token_expired") from None
    except BadSignature:
        raise Unauthorized("登录凭证无效。", code="invalid_token") from None
    user = session.get(User, data.get("uid")) if isinstance(data, dict) else None
    if user is None or not user.active:
        raise Unauthorized("该账号已不存在或已停用。", code="invalid_token")
    # tokens signed before versions existed carry none: they count as version 0 until the first bump
    if data.get("sv", 0) != (user.session_version or 0):
        raise Unauthorized("登录已失效（已退出登录、密码已重置或账号曾被停用），请重新登录。", code="token_revoked")
    return user


def revoke_sessions(session: Session, user: User) -> None:
    """Sign the user out everywhere: every token issued so far stops working at once.
    The one place the session version moves (sign-out, disabling, password reset)."""
    # incremented in SQL: of two revocations at once neither is lost (nor a token issued between them)
    user.session_version = User.session_version + 1  # type: ignore[assignment]
    session.flush()
    session.refresh(user, ["session_version"])
