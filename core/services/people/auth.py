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
    return URLSafeTimedSerializer(secret, salt=_SALT).dumps({"uid": user.id})


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
    return user
