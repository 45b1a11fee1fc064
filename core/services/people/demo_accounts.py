"""The demo's back-office accounts (demo mode only): one of each role, so a person can try the lab's and
the administrator's side at once. Production creates accounts with `flask users create-staff/-admin`."""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.errors import InvalidInput
from core.models import Institution, Role, User
from core.services.people.users import create_admin, create_expert, create_staff


@dataclass(frozen=True)
class DemoAccount:
    username: str
    password: str
    role: Role
    label: str


DEMO_ACCOUNTS = (
    DemoAccount("lab", "demo-lab-2026", Role.lab_staff, "实验室人员"),
    DemoAccount("labadmin", "demo-labadmin-2026", Role.institution_admin, "机构管理员"),
    DemoAccount("admin", "demo-admin-2026", Role.platform_admin, "平台管理员"),
    DemoAccount("expert", "demo-expert-2026", Role.expert, "评审专家"),
)


def ensure_demo_accounts(session: Session, institution_code: str | None = None) -> tuple[Institution, list[DemoAccount]]:
    """Create the demo accounts that do not exist yet (lab roles at the given institution, or the first
    one in the catalog); an existing account keeps its password. Returns the institution and the accounts."""
    query = select(Institution).order_by(Institution.id)
    if institution_code:
        query = query.where(Institution.code == institution_code)
    institution = session.scalars(query).first()
    if institution is None:
        raise InvalidInput("目录里还没有机构：先导入目录（make demo 会导入）。", code="institution_not_found")
    for account in DEMO_ACCOUNTS:
        if session.scalar(select(User).where(User.username == account.username)) is not None:
            continue
        if account.role == Role.platform_admin:
            create_admin(session, account.username, account.password, account.label)
        elif account.role == Role.expert:  # of no institution: may score every one
            create_expert(session, account.username, account.password, None, "张专家（评审专家）")
        else:
            create_staff(session, account.username, account.password, institution.code, account.role,
                         f"{institution.name}{account.label}")
    return institution, list(DEMO_ACCOUNTS)
