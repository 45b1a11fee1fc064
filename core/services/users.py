"""User accounts (authentication arrives with the mini-program API)."""
from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.security import generate_password_hash

from core.errors import Conflict, InvalidInput
from core.models import Role, User


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
