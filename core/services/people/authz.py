"""Role checks used by every service that acts on behalf of a user."""
from __future__ import annotations

from core.errors import Forbidden
from core.models import Role, User


def require_role(actor: User | None, *roles: Role) -> User:
    if actor is None or not actor.active:
        raise Forbidden("You must be signed in with an active account to do this.")
    if actor.role not in roles:
        allowed = ", ".join(r.value for r in roles)
        raise Forbidden(
            f"This needs the role {allowed}; you are {actor.role.value}.",
            details={"required": [r.value for r in roles], "actual": actor.role.value},
        )
    return actor


def command_line_actor() -> User:
    """The operator at the server's shell: trusted like a platform admin, never stored."""
    return User(username=None, display_name="command line", role=Role.platform_admin, active=True)
