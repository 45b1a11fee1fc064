"""Innovation vouchers: applications, approval, and the reserve / consume / release cycle.

Spending goes through conditional UPDATEs (`… WHERE available >= amount`), so two
payments racing for the same balance cannot both win, on SQLite or PostgreSQL.
"""
from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from core.config import VoucherRules
from core.errors import BusinessRuleViolation, Conflict, InvalidInput, NotFound
from core.models import Institution, Order, Role, User, VoucherApplication, VoucherRedemption, VoucherStatus
from core.models._types import utcnow
from core.services.people.authz import require_role
from core.services.people.company import valid_credit_code
from core.services.orders.ledger import VOUCHER_FUND, escrow, post


def _cny(cents: int) -> str:
    return f"{cents / 100:,.2f}"


def apply_for_voucher(session: Session, actor: User, requested_cents: int, purpose: str, rules: VoucherRules) -> VoucherApplication:
    require_role(actor, Role.enterprise)
    if not actor.company_credit_code or not valid_credit_code(actor.company_credit_code):
        raise BusinessRuleViolation("Only registered enterprises can apply: set your company and its unified social "
                                    "credit code first (PUT /api/v1/me/company).", code="company_required")
    if requested_cents <= 0:
        raise InvalidInput("The requested amount must be more than zero.", code="invalid_amount")
    if requested_cents > rules.max_per_application_cents:
        raise BusinessRuleViolation(
            f"One application can ask for at most {_cny(rules.max_per_application_cents)} CNY.",
            code="voucher_application_limit", details={"max_cny": rules.max_per_application_cents / 100})
    if not purpose.strip():
        raise InvalidInput("Say what the vouchers are for.", code="purpose_required")
    application = VoucherApplication(user_id=actor.id, company_credit_code=actor.company_credit_code,
                                     company_name=actor.company_name or "", requested_cents=requested_cents,
                                     purpose=purpose.strip())
    session.add(application)
    session.flush()
    return application


def _approved_this_year(session: Session, credit_code: str, year: int) -> int:
    return int(session.scalar(
        select(func.coalesce(func.sum(VoucherApplication.approved_cents), 0)).where(
            VoucherApplication.company_credit_code == credit_code,
            VoucherApplication.status == VoucherStatus.approved,
            VoucherApplication.valid_from >= date(year, 1, 1), VoucherApplication.valid_from <= date(year, 12, 31),
        )))


def decide_voucher(session: Session, actor: User, application_id: int, *, approve: bool, rules: VoucherRules,
                   amount_cents: int | None = None, valid_until: date | None = None, reason: str | None = None,
                   today: date | None = None) -> VoucherApplication:
    require_role(actor, Role.platform_admin)
    application = session.get(VoucherApplication, application_id, with_for_update=True)
    if application is None:
        raise NotFound(f"No voucher application {application_id}.")
    if application.status != VoucherStatus.pending:
        raise Conflict(f"This application was already {application.status.value}.", code="already_decided")
    today = today or date.today()
    if not approve:
        if not (reason or "").strip():
            raise InvalidInput("A rejection needs a reason the applicant can read.", code="reason_required")
        application.status = VoucherStatus.rejected
    else:
        amount = application.requested_cents if amount_cents is None else amount_cents
        if amount <= 0 or amount > rules.max_per_application_cents:
            raise BusinessRuleViolation(
                f"Approve between 0.01 and {_cny(rules.max_per_application_cents)} CNY.", code="voucher_application_limit")
        used = _approved_this_year(session, application.company_credit_code, today.year)
        if used + amount > rules.max_per_company_year_cents:
            raise BusinessRuleViolation(
                f"This company already has {_cny(used)} CNY of vouchers this year; the yearly cap is "
                f"{_cny(rules.max_per_company_year_cents)} CNY.", code="voucher_yearly_limit",
                details={"approved_this_year_cny": used / 100, "max_cny": rules.max_per_company_year_cents / 100})
        until = valid_until or today + timedelta(days=rules.default_validity_days)
        if until < today:
            raise InvalidInput("The validity period cannot end in the past.", code="invalid_validity")
        application.status = VoucherStatus.approved
        application.approved_cents = amount
        application.valid_from, application.valid_until = today, until
    application.decision_reason = (reason or "").strip() or None
    application.decided_by, application.decided_at = actor.id, utcnow()
    session.flush()
    return application


def usable_voucher(session: Session, voucher_id: int, user: User, today: date) -> VoucherApplication:
    voucher = session.get(VoucherApplication, voucher_id)
    if voucher is None or voucher.company_credit_code != user.company_credit_code:
        # another company's voucher is indistinguishable from none at all
        raise NotFound("No such voucher for your company.", code="voucher_not_found")
    if voucher.status != VoucherStatus.approved:
        raise BusinessRuleViolation("This voucher application is not approved.", code="voucher_not_approved")
    if not (voucher.valid_from <= today <= voucher.valid_until):
        raise BusinessRuleViolation(f"This voucher is valid {voucher.valid_from} to {voucher.valid_until}.",
                                    code="voucher_expired")
    return voucher


def voucher_share(total_cents: int, requested_cents: int | None, rules: VoucherRules) -> int:
    """The voucher part of a fee: what was asked, capped by the scheme's share."""
    cap = total_cents * rules.max_share_pct // 100
    return cap if requested_cents is None else min(requested_cents, cap)


def reserve(session: Session, order: Order) -> None:
    """At payment: take the voucher part from the balance, or fail if someone else just did."""
    if not order.voucher_cents:
        return
    taken = session.execute(
        update(VoucherApplication)
        .where(VoucherApplication.id == order.voucher_id,
               VoucherApplication.approved_cents - VoucherApplication.reserved_cents
               - VoucherApplication.consumed_cents >= order.voucher_cents)
        .values(reserved_cents=VoucherApplication.reserved_cents + order.voucher_cents)
        .execution_options(synchronize_session=False)
    ).rowcount
    if taken != 1:
        raise BusinessRuleViolation("The voucher balance no longer covers this order's voucher part.",
                                    code="voucher_balance_insufficient")
    session.add(VoucherRedemption(voucher_id=order.voucher_id, order_id=order.id, institution_id=order.institution_id,
                                  amount_cents=order.voucher_cents))
    post(session, "voucher_reserve", order.id, [(VOUCHER_FUND, escrow(order.id), order.voucher_cents)])


def close_redemption(session: Session, order: Order, consumed_cents: int) -> None:
    """At settlement or refund: consume what the lab earned, give the rest back to the balance."""
    redemption = session.scalar(select(VoucherRedemption).where(VoucherRedemption.order_id == order.id))
    if redemption is None or redemption.state != "reserved":
        return
    released = redemption.amount_cents - consumed_cents
    session.execute(
        update(VoucherApplication).where(VoucherApplication.id == redemption.voucher_id)
        .values(reserved_cents=VoucherApplication.reserved_cents - redemption.amount_cents,
                consumed_cents=VoucherApplication.consumed_cents + consumed_cents)
        .execution_options(synchronize_session=False))
    redemption.consumed_cents = consumed_cents
    redemption.state = "consumed" if consumed_cents else "released"
    redemption.closed_at = utcnow()
    if released:
        post(session, "voucher_release", order.id, [(escrow(order.id), VOUCHER_FUND, released)])
    session.flush()


@dataclass(frozen=True)
class StatementLine:
    institution_code: str
    institution_name: str
    orders: int
    voucher_cny: float


def redemption_statement(session: Session, actor: User, start: date, end: date) -> list[StatementLine]:
    """What the voucher fund owes each lab for vouchers consumed in [start, end]; lab staff see their own."""
    require_role(actor, Role.platform_admin, Role.lab_staff, Role.institution_admin)
    lo = datetime(start.year, start.month, start.day, tzinfo=timezone.utc)
    hi = datetime(end.year, end.month, end.day, tzinfo=timezone.utc) + timedelta(days=1)
    query = (select(Institution.code, Institution.name, func.count(VoucherRedemption.id),
                    func.sum(VoucherRedemption.consumed_cents))
             .join(Institution, Institution.id == VoucherRedemption.institution_id)
             .where(VoucherRedemption.state == "consumed", VoucherRedemption.closed_at >= lo,
                    VoucherRedemption.closed_at < hi)
             .group_by(Institution.code, Institution.name).order_by(Institution.code))
    if actor.role != Role.platform_admin:
        query = query.where(VoucherRedemption.institution_id == actor.institution_id)
    return [StatementLine(code, name, int(n), int(cents) / 100) for code, name, n, cents in session.execute(query)]


def statement_csv(lines: list[StatementLine], start: date, end: date) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["period_start", "period_end", "institution_code", "institution_name", "orders", "voucher_cny"])
    for line in lines:
        writer.writerow([start, end, line.institution_code, line.institution_name, line.orders, f"{line.voucher_cny:.2f}"])
    return out.getvalue()
