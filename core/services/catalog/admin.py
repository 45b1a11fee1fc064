"""Admin changes to listings and institutions that the search index must follow."""
from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.errors import InvalidInput, NotFound
from core.models import Institution, Instrument, OnboardingStatus, Role, Service, User
from core.services.people.authz import require_role
from core.services.catalog.index_outbox import mark_stale, services_of_institution


def set_service_active(session: Session, actor: User, service_code: str, active: bool) -> Service:
    require_role(actor, Role.platform_admin)
    service = session.scalar(select(Service).where(Service.code == service_code))
    if service is None:
        raise NotFound(f"没有编号为 {service_code} 的检测服务。", code="service_not_found")
    if service.active != active:
        service.active = active
        mark_stale(session, [service.code])
    return service


def _institution(session: Session, code: str) -> Institution:
    institution = session.scalar(select(Institution).where(Institution.code == code))
    if institution is None:
        raise NotFound(f"没有编号为 {code} 的机构。", code="institution_not_found")
    return institution


def set_institution_status(
    session: Session, actor: User, institution_code: str, status: OnboardingStatus
) -> Institution:
    require_role(actor, Role.platform_admin)
    institution = _institution(session, institution_code)
    if institution.status != status:
        institution.status = status
        mark_stale(session, services_of_institution(session, institution.id))
    return institution


PAYEE_TYPES = ("MERCHANT_ID", "PERSONAL_OPENID")


def set_institution_payee(session: Session, actor: User, institution_code: str, payee_type: str, account: str,
                          name: str) -> Institution:
    """Where WeChat Pay profit sharing (分账) sends the lab's part. Payments opened afterwards are
    frozen at WeChat until settlement splits them; earlier ones settle through the platform account."""
    require_role(actor, Role.platform_admin)
    institution = _institution(session, institution_code)
    if payee_type not in PAYEE_TYPES or not account.strip() or len(account) > 64:
        raise InvalidInput(f"分账接收方须为 {' 或 '.join(PAYEE_TYPES)}，账号 1 到 64 个字符。", code="invalid_payee")
    if payee_type == "MERCHANT_ID" and not name.strip():
        raise InvalidInput("商户接收方须填写其在微信支付登记的全称。", code="invalid_payee")
    institution.payee_type, institution.payee_account, institution.payee_name = payee_type, account.strip(), name.strip()
    session.flush()
    return institution


# a whole instrument out of sharing (broken, moved, in-house work) and back: its listings follow it in search
def set_instrument_shared(session: Session, actor: User, instrument_code: str, shared: bool) -> Instrument:
    require_role(actor, Role.platform_admin)
    instrument = session.scalar(select(Instrument).where(Instrument.code == instrument_code))
    if instrument is None:
        raise NotFound(f"没有编号为 {instrument_code} 的仪器。", code="instrument_not_found")
    if instrument.open_for_sharing != shared:
        instrument.open_for_sharing = shared
        mark_stale(session, session.scalars(select(Service.code).where(Service.instrument_id == instrument.id)))
    return instrument
