"""A lab's own listings and what its staff may change on them: description, sample requirements, price,
turnaround, where samples are mailed, and whether the listing is on the shelf.

Every change is marked in the search index outbox in the same transaction (as the import and the
admin switches do), so the index can never miss a committed edit; the caller nudges the sync after
the commit."""
from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload

from core.errors import Conflict, InvalidInput, NotFound
from core.models import Instrument, Role, Service, User
from core.models.review import APPROVED, SUBMITTED, PendingRevision
from core.services.catalog import revisions
from core.services.catalog.index_outbox import mark_stale
from core.services.catalog.revisions import REVIEWED_FIELDS
from core.services.people.authz import require_role

# the mailing address lives in the instrument's `extra` record (no column yet): the samples of every
# listing on an instrument go to the same lab, and a catalog re-import leaves `extra` alone
SAMPLE_ADDRESS_KEY = "sample_address"
MAX_PRICE = Decimal("9999999999.99")  # Numeric(12, 2)
MAX_TURNAROUND_DAYS = 365
MAX_TEXT = 5000
MAX_ADDRESS = 300


@dataclass(frozen=True)
class ListingChanges:
    description: str | None
    sample_requirements: str | None
    price_cny: Decimal
    turnaround_days: int | None
    sample_address: str | None


def listings_of(session: Session, institution_id: int | None) -> list[Service]:
    return list(session.scalars(
        select(Service).join(Instrument, Service.instrument_id == Instrument.id)
        .where(Instrument.institution_id == institution_id)
        .options(joinedload(Service.instrument)).order_by(Instrument.code, Service.code)))


def lab_listing(session: Session, institution_id: int | None, code: str) -> Service:
    """The listing if it is the institution's; another lab's is as missing as an unknown one."""
    service = session.scalar(select(Service).where(Service.code == code).options(joinedload(Service.instrument)))
    if service is None or institution_id is None or service.instrument.institution_id != institution_id:
        raise NotFound(f"您的实验室没有检测服务 {code}。", code="service_not_found")
    return service


def sample_address(instrument: Instrument) -> str | None:
    return (instrument.extra or {}).get(SAMPLE_ADDRESS_KEY) or None


def parse_price(text: str) -> Decimal:
    """A positive amount in yuan with at most two decimals (fen)."""
    try:
        price = Decimal(text.strip().replace(",", "").removeprefix("¥"))
    except InvalidOperation:
        raise InvalidInput("价格须为数字，如 300 或 299.50。", code="invalid_price", details={"field": "price_cny"}) from None
    if not price.is_finite() or price <= 0:
        raise InvalidInput("价格须大于 0。", code="invalid_price", details={"field": "price_cny"})
    if price.as_tuple().exponent < -2:  # type: ignore[operator]
        raise InvalidInput("价格最多保留两位小数（分）。", code="invalid_price", details={"field": "price_cny"})
    if price > MAX_PRICE:
        raise InvalidInput("价格过大，请检查。", code="invalid_price", details={"field": "price_cny"})
    return price


def _text(value: str | None, limit: int, field: str, label: str) -> str | None:
    value = (value or "").strip()
    if len(value) > limit:
        raise InvalidInput(f"{label}最多 {limit} 个字。", code="text_too_long", details={"field": field})
    return value or None


def update_listing(session: Session, actor: User, code: str, changes: ListingChanges) -> tuple[Service, bool]:
    """Apply the lab's edit; answers the listing and whether anything changed. On a live listing the
    reviewed fields (revisions.py) wait as a pending revision while the rest applies at once."""
    require_role(actor, Role.lab_staff, Role.institution_admin)
    service = lab_listing(session, actor.institution_id, code)
    price = parse_price(str(changes.price_cny))
    turnaround = changes.turnaround_days
    if turnaround is not None and not 0 <= turnaround <= MAX_TURNAROUND_DAYS:
        raise InvalidInput(f"检测周期须为 0 到 {MAX_TURNAROUND_DAYS} 天。", code="invalid_turnaround",
                           details={"field": "turnaround_days"})
    values = {"description": _text(changes.description, MAX_TEXT, "description", "服务说明"),
              "sample_requirements": _text(changes.sample_requirements, MAX_TEXT, "sample_requirements", "样品要求"),
              "price_cny": price, "turnaround_days": turnaround}
    address = _text(changes.sample_address, MAX_ADDRESS, "sample_address", "寄样地址")
    if service.review_status == SUBMITTED:
        raise Conflict("该服务正在审核中，审核结束前不能修改。", code="under_review")
    changed = False
    if service.review_status == APPROVED:
        reviewed = {k: values.pop(k) for k in list(values) if k in REVIEWED_FIELDS}
        changed = revisions.propose(session, actor, service, reviewed) is not None
    for key, value in values.items():
        if getattr(service, key) != value:
            setattr(service, key, value)
            changed = True
    instrument = service.instrument
    if sample_address(instrument) != address:
        # a new dict: the JSON column does not track changes made inside the old one
        extra = {k: v for k, v in (instrument.extra or {}).items() if k != SAMPLE_ADDRESS_KEY}
        instrument.extra = {**extra, SAMPLE_ADDRESS_KEY: address} if address else extra
        changed = True
    if changed:
        mark_stale(session, [service.code])
    session.flush()
    return service, changed


def pending_revision(session: Session, code: str) -> PendingRevision | None:
    return revisions.pending_of(session, "service", code)


def set_listing_active(session: Session, actor: User, code: str, active: bool) -> tuple[Service, bool]:
    """Put the listing on the shelf or take it off (search, booking); answers whether it changed."""
    require_role(actor, Role.lab_staff, Role.institution_admin)
    service = lab_listing(session, actor.institution_id, code)
    if service.active == active:
        return service, False
    if active and service.review_status == APPROVED:  # back on the shelf: reviewed (revisions.py)
        return service, revisions.propose(session, actor, service, {"active": True}) is not None
    service.active = active
    mark_stale(session, [service.code])
    return service, True
