"""Innovation vouchers: applications, approval, and the reserve / consume / release cycle.

A voucher belongs to a verified company; only its active members may apply for,
see or spend it, and membership is checked again when the voucher part is reserved.

Spending goes through conditional UPDATEs (`… WHERE available >= amount`), so two
payments racing for the same balance cannot both win, on SQLite or PostgreSQL.
"""
from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from core.config import VoucherRules
from core.errors import BusinessRuleViolation, Conflict, InvalidInput, NotFound
from core.models import Institution, Order, Role, User, VoucherApplication, VoucherRedemption, VoucherStatus
from core.models._types import local_days, utcnow
from core.services.people.authz import require_role
from core.services.people.companies import may_use_vouchers_of, voucher_company
from core.services.people.staff_alerts import notify_admins
from core.services.orders.ledger import VOUCHER_FUND, escrow, post


def _cny(cents: int) -> str:
    return f"{cents / 100:,.2f}"


def apply_for_voucher(session: Session, actor: User, requested_cents: int, purpose: str, rules: VoucherRules) -> VoucherApplication:
    require_role(actor, Role.enterprise)
    company = voucher_company(session, actor)
    if company is None:
        raise BusinessRuleViolation(
            "先完成企业认证：提交营业执照并通过平台审核（或加入已认证的企业、由企业管理员批准）后，才能申请创新券。",
            code="company_required")
    if requested_cents <= 0:
        raise InvalidInput("申请金额必须大于零。", code="invalid_amount")
    if requested_cents > rules.max_per_application_cents:
        raise BusinessRuleViolation(
            f"每次申请最多 {_cny(rules.max_per_application_cents)} 元。",
            code="voucher_application_limit", details={"max_cny": rules.max_per_application_cents / 100})
    if not purpose.strip():
        raise InvalidInput("请说明创新券的用途。", code="purpose_required")
    application = VoucherApplication(user_id=actor.id, company_id=company.id, company_credit_code=company.credit_code,
                                     company_name=company.name, requested_cents=requested_cents,
                                     purpose=purpose.strip())
    session.add(application)
    session.flush()
    notify_admins(session, "voucher_application", f"创新券申请：{company.name}"[:100],
                  f"{company.name} 申请创新券 {_cny(requested_cents)} 元（申请编号 {application.id}），"
                  f"用途：{application.purpose}。请在平台后台审核。")
    return application


def _approved_this_year(session: Session, company_id: int, year: int) -> int:
    return int(session.scalar(
        select(func.coalesce(func.sum(VoucherApplication.approved_cents), 0)).where(
            VoucherApplication.company_id == company_id,
            VoucherApplication.status == VoucherStatus.approved,
            VoucherApplication.valid_from >= date(year, 1, 1), VoucherApplication.valid_from <= date(year, 12, 31),
        )))


def decide_voucher(session: Session, actor: User, application_id: int, *, approve: bool, rules: VoucherRules,
                   amount_cents: int | None = None, valid_until: date | None = None, reason: str | None = None,
                   today: date | None = None) -> VoucherApplication:
    require_role(actor, Role.platform_admin)
    application = session.get(VoucherApplication, application_id, with_for_update=True)
    if application is None:
        raise NotFound(f"没有编号为 {application_id} 的创新券申请。")
    if application.status != VoucherStatus.pending:
        raise Conflict("这份申请已经审核过了。", code="already_decided",
                       details={"status": application.status.value})
    today = today or date.today()
    if not approve:
        if not (reason or "").strip():
            raise InvalidInput("驳回申请时请填写原因，申请人会看到它。", code="reason_required")
        application.status = VoucherStatus.rejected
    else:
        amount = application.requested_cents if amount_cents is None else amount_cents
        if amount <= 0 or amount > rules.max_per_application_cents:
            raise BusinessRuleViolation(
                f"批准金额须在 0.01 到 {_cny(rules.max_per_application_cents)} 元之间。", code="voucher_application_limit")
        used = _approved_this_year(session, application.company_id, today.year)
        if used + amount > rules.max_per_company_year_cents:
            raise BusinessRuleViolation(
                f"该企业今年已获批 {_cny(used)} 元创新券，每家企业每年最多 "
                f"{_cny(rules.max_per_company_year_cents)} 元。", code="voucher_yearly_limit",
                details={"approved_this_year_cny": used / 100, "max_cny": rules.max_per_company_year_cents / 100})
        until = valid_until or today + timedelta(days=rules.default_validity_days)
        if until < today:
            raise InvalidInput("有效期不能早于今天。", code="invalid_validity")
        application.status = VoucherStatus.approved
        application.approved_cents = amount
        application.valid_from, application.valid_until = today, until
    application.decision_reason = (reason or "").strip() or None
    application.decided_by, application.decided_at = actor.id, utcnow()
    session.flush()
    return application


def _no_such_voucher() -> NotFound:
    # another company's voucher, or one the user may no longer spend, is indistinguishable from none at all
    return NotFound("您的企业没有这张创新券。", code="voucher_not_found")


def usable_voucher(session: Session, voucher_id: int, user: User, today: date) -> VoucherApplication:
    voucher = session.get(VoucherApplication, voucher_id)
    if voucher is None or not may_use_vouchers_of(session, user.id, voucher.company_id):
        raise _no_such_voucher()
    if voucher.status != VoucherStatus.approved:
        raise BusinessRuleViolation("这张创新券的申请尚未获批。", code="voucher_not_approved")
    if not (voucher.valid_from <= today <= voucher.valid_until):
        raise BusinessRuleViolation(f"这张创新券的有效期为 {voucher.valid_from} 至 {voucher.valid_until}。",
                                    code="voucher_expired")
    return voucher


def vouchers_for(session: Session, actor: User) -> list[VoucherApplication]:
    """Platform admins see every application; everyone else only those of the verified company
    they are an active member of (none otherwise), newest first."""
    query = select(VoucherApplication).order_by(VoucherApplication.id.desc())
    if actor.role != Role.platform_admin:
        company = voucher_company(session, actor) if actor.role == Role.enterprise else None
        if company is None:
            return []
        query = query.where(VoucherApplication.company_id == company.id)
    return list(session.scalars(query))


def voucher_share(total_cents: int, requested_cents: int | None, rules: VoucherRules) -> int:
    """The voucher part of a fee: what was asked, capped by the scheme's share."""
    cap = total_cents * rules.max_share_pct // 100
    return cap if requested_cents is None else min(requested_cents, cap)


def check_still_entitled(session: Session, order: Order) -> None:
    """Before another payment attempt: the voucher part stays the company's, so its spender must still
    be one of its active members (removed since the first attempt: the same 404 as no voucher)."""
    if not order.voucher_cents:
        return
    company_id = session.scalar(select(VoucherApplication.company_id).where(VoucherApplication.id == order.voucher_id))
    if company_id is None or not may_use_vouchers_of(session, order.user_id, company_id, lock=True):
        raise _no_such_voucher()


def reserve(session: Session, order: Order) -> None:
    """At payment: take the voucher part from the balance, or fail if someone else just did.
    The order's user must still be an active member of the voucher's company: one removed
    after placing the order cannot pay it with the company's vouchers."""
    if not order.voucher_cents:
        return
    check_still_entitled(session, order)
    taken = session.execute(
        update(VoucherApplication)
        .where(VoucherApplication.id == order.voucher_id,
               VoucherApplication.approved_cents - VoucherApplication.reserved_cents
               - VoucherApplication.consumed_cents >= order.voucher_cents)
        .values(reserved_cents=VoucherApplication.reserved_cents + order.voucher_cents)
        .execution_options(synchronize_session=False)
    ).rowcount
    if taken != 1:
        raise BusinessRuleViolation("创新券余额已不足以支付本订单的创新券部分。",
                                    code="voucher_balance_insufficient")
    session.add(VoucherRedemption(voucher_id=order.voucher_id, order_id=order.id, spent_by_user_id=order.user_id,
                                  institution_id=order.institution_id, amount_cents=order.voucher_cents))
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


def redemption_statement(session: Session, actor: User, start: date, end: date, zone: str) -> list[StatementLine]:
    """What the voucher fund owes each lab for vouchers consumed in the local days [start, end]; lab staff
    see their own."""
    require_role(actor, Role.platform_admin, Role.lab_staff, Role.institution_admin)
    lo, hi = local_days(start, end, zone)
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
    # people open it in a spreadsheet: Chinese headers, and a BOM so Excel reads the UTF-8
    out.write("\ufeff")
    writer.writerow(["起始日期", "截止日期", "机构编号", "机构名称", "订单数", "创新券金额（元）"])
    for line in lines:
        writer.writerow([start, end, line.institution_code, line.institution_name, line.orders, f"{line.voucher_cny:.2f}"])
    return out.getvalue()
