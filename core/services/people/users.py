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
        raise InvalidInput("A username is required.", code="username_required")
    if len(password) < 8:
        raise InvalidInput("The password must have at least 8 characters.", code="password_too_short")
    if session.scalar(select(User).where(User.username == username)):
        raise Conflict(f"A user named {username!r} already exists.", code="username_taken")
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
        raise InvalidInput("Staff are lab_staff or institution_admin.", code="invalid_role")
    institution = session.scalar(select(Institution).where(Institution.code == institution_code))
    if institution is None:
        raise InvalidInput(f"No institution {institution_code!r}.", code="institution_not_found")
    user = create_admin(session, username, password, display_name)
    user.role, user.institution_id = role, institution.id
    session.flush()
    return user


def user_for_password(session: Session, username: str, password: str) -> User:
    user = session.scalar(select(User).where(User.username == username.strip()))
    if user is None or not user.password_hash or not user.active or not check_password_hash(user.password_hash, password):
        raise Unauthorized("Wrong username or password.", code="bad_credentials")
    return user
