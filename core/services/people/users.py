"""User accounts (authentication arrives with the mini-program API)."""
from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash, generate_password_hash

from core.errors import Conflict, InvalidInput, Unauthorized
from core.models import Institution, Role, User


def create_admin(session: Session, username: str, password: str, display_name: str | None = None) -> User:
    username = username.strip()
    if not username:
        raise InvalidInput("请填写用户名。", code="username_required")
    if len(password) < 8:
        raise InvalidInput("密码至少 8 个字符。", code="password_too_short")
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


def user_for_password(session: Session, username: str, password: str) -> User:
    user = session.scalar(select(User).where(User.username == username.strip()))
    if user is None or not user.password_hash or not user.active or not check_password_hash(user.password_hash, password):
        raise Unauthorized("用户名或密码错误。", code="bad_credentials")
    return user
