"""待审队列: voucher applications to approve or reject and disputes to decide, oldest first, each saying
how long it has waited. The decisions are the JSON API's own services (vouchers.decide_voucher,
lifecycle.resolve_dispute), so the audit trail, the ledger and the refund outbox behave the same."""
from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from flask import flash, g, redirect, render_template, request, url_for

from core.errors import AppError, Conflict, NotFound
from core.models import User
from core.models._types import utcnow
from core.services.orders.admin_queues import default_valid_until, open_disputes, pending_vouchers, queue_sizes
from core.services.orders.lifecycle import resolve_dispute
from core.models._types import local_today
from core.services.orders.vouchers import decide_voucher
from web.console.blueprint import console_bp
from web.pages import yuan
from web.session import ADMIN_ROLES, platform, requires, signed_in

QUEUES = "/console/queues"
MAX_TEXT = 1000  # the API's limit on a decision's reason
OUTCOMES = {"release": "放款给实验室", "partial": "部分退款", "refund": "全额退款"}
# a service's refusal shown under the field it is about (others above the form)
FIELD_OF_CODE = {"invalid_amount": "amount_cny", "voucher_application_limit": "amount_cny",
                 "voucher_yearly_limit": "amount_cny", "invalid_validity": "valid_until",
                 "reason_required": "reason", "invalid_refund": "refund_cny", "invalid_outcome": "outcome"}


class FormError(Exception):
    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field, self.message = field, message


def waited(since: datetime, now: datetime) -> str:
    """"已等待 3 小时" / "2 天": the queue is worked oldest first, and the age says how urgent."""
    minutes = max(0, int((now - since).total_seconds() // 60))
    if minutes < 1:
        return "刚刚提交"
    if minutes < 60:
        return f"已等待 {minutes} 分钟"
    if minutes < 24 * 60:
        return f"已等待 {minutes // 60} 小时"
    return f"已等待 {minutes // (24 * 60)} 天"


def parse_yuan(raw: str | None, field: str, label: str) -> int:
    """An amount typed in yuan ("1200", "1,200.50", "¥80") as cents."""
    text = (raw or "").strip().replace(",", "").replace("，", "").lstrip("¥￥").strip()
    if not text:
        raise FormError(field, f"请填写{label}。")
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise FormError(field, f"{label}须为金额数字，如 1200 或 1200.50。") from None
    if not value.is_finite() or value <= 0:
        raise FormError(field, f"{label}须大于零。")
    if value != value.quantize(Decimal("0.01")):
        raise FormError(field, f"{label}最多保留两位小数（分）。")
    if value >= Decimal(10) ** 10:
        raise FormError(field, f"{label}过大。")
    return int(value * 100)


def parse_day(raw: str | None, field: str, label: str) -> date:
    text = (raw or "").strip()
    if not text:
        raise FormError(field, f"请填写{label}。")
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise FormError(field, f"{label}须为日期，如 2026-12-31。") from None


def parse_text(raw: str | None, field: str, label: str, required: bool) -> str:
    text = (raw or "").strip()
    if required and not text:
        raise FormError(field, f"请填写{label}，申请人会看到它。")
    if len(text) > MAX_TEXT:
        raise FormError(field, f"{label}最多 {MAX_TEXT} 个字。")
    return text


def _queue_badge() -> None:
    """The count on the 待审队列 navigation item, for platform admins only."""
    user = signed_in()
    if user is None or user.role not in ADMIN_ROLES:
        return
    with platform().transaction(write=False) as session:
        sizes = queue_sizes(session)
    if sizes.total:
        g.nav_badges = {**getattr(g, "nav_badges", {}), QUEUES: sizes.total}


console_bp.before_request(_queue_badge)


def _page(errors: dict[str, dict[str, str]] | None = None, values: dict[str, dict[str, str]] | None = None,
          status: int = 200) -> Any:
    p = platform()
    tz = p.settings.orders.timezone
    with p.transaction(write=False) as session:
        actor = session.get(User, g.user.id)
        vouchers, disputes = pending_vouchers(session, actor), open_disputes(session, actor)
    now = utcnow()
    return render_template(
        "console/queues.html", vouchers=vouchers, disputes=disputes, now=now, waited=waited, outcomes=OUTCOMES,
        valid_until=default_valid_until(local_today(tz), p.settings.vouchers.default_validity_days),
        errors=errors or {}, values=values or {}), status


def _back(anchor: str) -> Any:
    return redirect(url_for("console.queues") + f"#{anchor}")


def _refused(key: str, values: dict[str, str], exc: AppError, anchor: str) -> Any:
    """A domain refusal in Chinese: gone from the queue (decided already, no such item) → a flash on the
    queue; anything else → the form again with the message and what was typed."""
    if isinstance(exc, (Conflict, NotFound)):
        flash(exc.message, "error")
        return _back(anchor)
    return _page({key: {FIELD_OF_CODE.get(exc.code, "form"): exc.message}}, {key: values}, exc.status)


@console_bp.get("/queues")
@requires(*ADMIN_ROLES)
def queues():  # type: ignore[no-untyped-def]
    return _page()


@console_bp.post("/queues/vouchers/<int:application_id>")
@requires(*ADMIN_ROLES)
def decide_voucher_application(application_id: int):  # type: ignore[no-untyped-def]
    form = request.form
    key = f"voucher-{application_id}"
    values = {name: form.get(name, "") for name in ("decision", "amount_cny", "valid_until", "note", "reason")}
    approve = form.get("decision") == "approve"
    try:
        if approve:
            amount: int | None = parse_yuan(form.get("amount_cny"), "amount_cny", "批准金额")
            until: date | None = parse_day(form.get("valid_until"), "valid_until", "有效期")
            reason = parse_text(form.get("note"), "note", "审核意见", required=False)
        elif form.get("decision") == "reject":
            amount, until = None, None
            reason = parse_text(form.get("reason"), "reason", "驳回原因", required=True)
        else:
            raise FormError("form", "请选择批准或驳回。")
    except FormError as exc:
        return _page({key: {exc.field: exc.message}}, {key: values}, 400)
    p = platform()
    try:
        with p.transaction() as session:
            application = decide_voucher(
                session, session.get(User, g.user.id), application_id, approve=approve, rules=p.settings.vouchers,
                amount_cents=amount, valid_until=until, reason=reason or None,
                today=local_today(p.settings.orders.timezone))
            company, approved, valid = application.company_name, application.approved_cents, application.valid_until
    except AppError as exc:
        return _refused(key, values, exc, "vouchers")
    flash(f"已批准 {company} 的创新券 {yuan(approved)}，有效期至 {valid}。" if approve
          else f"已驳回 {company} 的创新券申请。", "success")
    return _back("vouchers")


@console_bp.post("/queues/disputes/<number>")
@requires(*ADMIN_ROLES)
def resolve_order_dispute(number: str):  # type: ignore[no-untyped-def]
    form = request.form
    key = f"dispute-{number}"
    values = {name: form.get(name, "") for name in ("outcome", "refund_cny", "reason")}
    outcome = form.get("outcome", "")
    try:
        if outcome not in OUTCOMES:
            raise FormError("outcome", "请选择裁定结果：放款给实验室、部分退款或全额退款。")
        refund = parse_yuan(form.get("refund_cny"), "refund_cny", "退款金额") if outcome == "partial" else None
        reason = parse_text(form.get("reason"), "reason", "裁定说明", required=False)
    except FormError as exc:
        return _page({key: {exc.field: exc.message}}, {key: values}, 400)
    p = platform()
    try:
        with p.transaction() as session:
            order = resolve_dispute(session, session.get(User, g.user.id), number, outcome, p.settings,
                                    None if refund is None else refund / 100, reason)
            total = order.total_cents
    except AppError as exc:
        return _refused(key, values, exc, "disputes")
    done = {"release": f"全部 {yuan(total)} 结算给实验室",
            "partial": f"退款 {yuan(refund)}，其余 {yuan(total - (refund or 0))} 结算给实验室",
            "refund": f"全额退款 {yuan(total)}"}[outcome]
    flash(f"订单 {number} 的争议已裁定：{done}。", "success")
    return _back("disputes")
