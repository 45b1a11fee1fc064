"""Admin changes to listings and institutions that the search index must follow."""
from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.errors import NotFound
from core.models import Institution, OnboardingStatus, Role, Service, User
from core.services.people.authz import require_role
from core.services.catalog.index_outbox import mark_stale, services_of_institution


def set_service_active(session: Session, actor: User, service_code: str, active: bool) -> Service:
    require_role(actor, Role.platform_admin)
    service = session.scalar(select(Service).where(Service.code == service_code))
    if service is None:
        raise NotFound(f"No service with code {service_code!r}.", code="service_not_found")
    if service.active != active:
        service.active = active
        mark_stale(session, [service.code])
    return service


def set_institution_status(
    session: Session, actor: User, institution_code: str, status: OnboardingStatus
) -> Institution:
    require_role(actor, Role.platform_admin)
    institution = session.scalar(select(Institution).where(Institution.code == institution_code))
    if institution is None:
        raise NotFound(f"No institution with code {institution_code!r}.", code="institution_not_found")
    if institution.status != status:
        institution.status = status
        mark_stale(session, services_of_institution(session, institution.id))
    return institution
