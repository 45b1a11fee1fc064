"""Role checks used by every service that acts on behalf of a user."""
from __future__ import annotations

from core.errors import Forbidden
from core.models import Role, User


# the people who run the platform (as opposed to its customers): back-office sign-in, WeChat alerts
STAFF_ROLES = (Role.lab_staff, Role.institution_admin, Role.platform_admin)
ROLE_LABELS = {Role.enterprise: "企业用户", Role.lab_staff: "实验室人员", Role.institution_admin: "机构管理员",
               Role.platform_admin: "平台管理员", Role.expert: "评审专家"}


def require_role(actor: User | None, *roles: Role) -> User:
    if actor is None or not actor.active:
        raise Forbidden("请使用有效的账号登录后再操作。")
    if actor.role not in roles:
        allowed = "、".join(ROLE_LABELS[r] for r in roles)
        raise Forbidden(
            f"此操作需要{allowed}身份，您当前的身份是{ROLE_LABELS[actor.role]}。",
            details={"required": [r.value for r in roles], "actual": actor.role.value},
        )
    return actor


def command_line_actor() -> User:
    """The operator at the server's shell: trusted like a platform admin, never stored."""
    return User(username=None, display_name="command line", role=Role.platform_admin, active=True)
