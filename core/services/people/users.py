"""User accounts with a password (platform admins, lab staff): creation, sign-in, disabling, password reset."""
from __future__ import annotations

import secrets
from functools import lru_cache

from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash, generate_password_hash

from core.errors import Conflict, InvalidInput, NotFound, Unauthorized
from core.models import Institution, Role, User
from core.services.people.auth import revoke_sessions

MIN_PASSWORD_LENGTH = 8


def _check_password_rules(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidInput(f"密码至少 {MIN_PASSWORD_LENGTH} 个字符。", code="password_too_short")


def create_admin(session: Session, username: str, password: str, display_name: str | None = None) -> User:
    username = username.strip()
    if not username:
        raise InvalidInput("请填写用户名。", code="username_required")
    _check_password_rules(password)
    if session.scalar(select(User).where(User.username == username)):
        raise Conflict(f"用户名 {username!r} 已被使用。", code="username_taken")
    user = User(
        username=username,
        display_name=display_name or username,
        role=Role.platform_admin,
        password_hash=generate_password_hash(password),
    )
    session.add(user)
    session.flush()
    return user


def create_staff(session: Session, username: str, password: str, institution_code: str,
                 role: Role = Role.lab_staff, display_name: str | None = None) -> User:
    """Lab staff and institution admins sign in with a password and act for one institution."""
    if role not in (Role.lab_staff, Role.institution_admin):
        raise InvalidInput("工作人员角色须为 lab_staff（实验室人员）或 institution_admin（机构管理员）。", code="invalid_role")
    institution = session.scalar(select(Institution).where(Institution.code == institution_code))
    if institution is None:
        raise InvalidInput(f"没有机构 {institution_code!r}。", code="institution_not_found")
    user = create_admin(session, username, password, display_name)
    user.role, user.institution_id = role, institution.id
    session.flush()
    return user


def create_expert(session: Session, username: str, password: str, institution_code: str | None = None,
                  display_name: str | None = None) -> User:
    """An evaluation expert; the institution they work at (if any) is the one they may never score."""
    institution = None
    if institution_code:
        institution = session.scalar(select(Institution).where(Institution.code == institution_code))
        if institution is None:
            raise InvalidInput(f"没有机构 {institution_code!r}。", code="institution_not_found")
    user = create_admin(session, username, password, display_name)
    user.role, user.institution_id = Role.expert, institution.id if institution else None
    session.flush()
    return user


@lru_cache(maxsize=1)
def _dummy_hash() -> str:
    """A hash of a random password, made once (on first use, not at import) by the same function and
    parameters as real ones: checking against it costs what checking a real password costs."""
    return generate_password_hash(secrets.token_urlsafe(16))


def user_for_password(session: Session, username: str, password: str) -> User:
    """The active user with this username and password. An unknown name, a disabled account or one
    without a password runs the same hash check and fails the same way as a wrong password, so
    neither the answer nor its time tells which usernames exist."""
    user = session.scalar(select(User).where(User.username == username.strip()))
    stored = user.password_hash if user is not None and user.password_hash else _dummy_hash()
    matches = check_password_hash(stored, password)
    if user is None or not user.password_hash or not user.active or not matches:
        raise Unauthorized("用户名或密码错误。", code="bad_credentials")
    return user


def user_by_username(session: Session, username: str) -> User:
    user = session.scalar(select(User).where(User.username == username.strip()))
    if user is None:
        raise NotFound(f"没有用户名为 {username!r} 的账号。", code="user_not_found")
    return user


def sign_out_everywhere(session: Session, username: str) -> User:
    """Revoke every token of an account (a lost phone, a leaked token)."""
    user = user_by_username(session, username)
    revoke_sessions(session, user)
    return user


def set_active(session: Session, username: str, active: bool) -> User:
    """Disable or re-enable an account; disabling signs it out everywhere at once."""
    user = user_by_username(session, username)
    user.active = active
    if not active:
        revoke_sessions(session, user)
    session.flush()
    return user


def reset_password(session: Session, username: str, password: str) -> User:
    """Set a new password; every token issued with the old one stops working."""
    _check_password_rules(password)
    user = user_by_username(session, username)
    user.password_hash = generate_password_hash(password)
    revoke_sessions(session, user)
    return user
