"""Accounts as the platform admin manages them: the list, a role change, and the rules that keep an
admin from locking the platform out (no admin disables, demotes or resets themselves here).
Creating, disabling and resetting are users.py's functions, as for the CLI."""
from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from core.errors import BusinessRuleViolation, InvalidInput, NotFound
from core.models import Institution, Role, User
from core.services.people.authz import STAFF_ROLES, require_role
from core.services.paging import Paged

PER_PAGE = 20
# roles an account with a password can be given here (enterprise users sign in with WeChat)
# no 0/O or 1/l/I: read out over the phone without a mistake
_PASSWORD_ALPHABET = "abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"


@dataclass(frozen=True)
class UserRow:
    id: int
    username: str | None
    display_name: str
    role: Role
    institution_code: str | None
    institution_name: str | None
    active: bool
    wechat_bound: bool  # the official account's openid: staff notifications reach their WeChat
    created_at: datetime

    @property
    def has_password_login(self) -> bool:
        return self.username is not None


UserPage = Paged[UserRow]


def _row(user: User, institution: Institution | None) -> UserRow:
    return UserRow(user.id, user.username, user.display_name, user.role, institution.code if institution else None,
                   institution.name if institution else None, user.active, bool(user.official_openid), user.created_at)


def browse_users(session: Session, text: str | None = None, role: str | None = None, active: bool | None = None,
                 page: int = 1, per_page: int = PER_PAGE) -> UserPage:
    stmt = select(User, Institution).outerjoin(Institution, User.institution_id == Institution.id)
    if text and text.strip():
        escaped = text.strip()[:100].lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        pattern = f"%{escaped}%"
        stmt = stmt.where(or_(*(func.lower(c).like(pattern, escape="\\") for c in (
            User.username, User.display_name, User.contact_phone, Institution.name, Institution.code))))
    if role in {r.value for r in Role}:
        stmt = stmt.where(User.role == Role(role))
    if active is not None:
        stmt = stmt.where(User.active.is_(active))
    total = int(session.scalar(select(func.count()).select_from(stmt.subquery())) or 0)
    pages = max(1, -(-total // per_page))
    page = min(max(1, page), pages)
    rows = session.execute(stmt.order_by(User.role, User.username, User.id)
                           .offset((page - 1) * per_page).limit(per_page)).all()
    return UserPage([_row(u, i) for u, i in rows], total, page, per_page)


def user_row(session: Session, user_id: int) -> UserRow:
    user = session.get(User, user_id)
    if user is None:
        raise NotFound("没有这个账号。", code="user_not_found")
    return _row(user, session.get(Institution, user.institution_id) if user.institution_id else None)


def check_not_self(actor: User, target_username: str | None, doing: str) -> None:
    """An admin cannot do this to their own account here: one slip would lock them out."""
    if target_username is not None and actor.username == target_username:
        raise BusinessRuleViolation(f"不能在这里{doing}自己的账号，请让另一位平台管理员操作。", code="own_account")


def change_role(session: Session, actor: User, user_id: int, role: Role, institution_code: str | None) -> User:
    """Give a password account another staff role; lab roles need the institution they act for."""
    require_role(actor, Role.platform_admin)
    user = session.get(User, user_id)
    if user is None:
        raise NotFound("没有这个账号。", code="user_not_found")
    check_not_self(actor, user.username, "更改")
    if user.username is None or user.role not in STAFF_ROLES:
        raise BusinessRuleViolation("只能更改工作人员账号（用户名密码登录）的角色；企业用户通过微信登录。",
                                    code="not_staff_account")
    if role not in STAFF_ROLES:
        raise InvalidInput("角色须为实验室人员、机构管理员或平台管理员。", code="invalid_role")
    institution_id = None
    if role != Role.platform_admin:
        institution = session.scalar(select(Institution).where(Institution.code == (institution_code or "")))
        if institution is None:
            raise InvalidInput("实验室人员和机构管理员须选择所属机构。", code="institution_not_found")
        institution_id = institution.id
    user.role, user.institution_id = role, institution_id
    session.flush()
    return user


def generate_password(length: int = 12) -> str:
    return "".join(secrets.choice(_PASSWORD_ALPHABET) for _ in range(length))
