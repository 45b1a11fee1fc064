"""What staff (lab staff, institution and platform admins) receive beyond their inbox:
an official-account template message when their WeChat is bound, and an e-mail copy
when SMTP is configured.

Templates are one table, `STAFF_TEMPLATES`: a notification kind names the setting that
holds its template id and which template field shows which value (`VALUES`); a new kind
is a new row. Fields follow WeChat's current keyword style (`thing` ≤ 20 characters,
`character_string` ≤ 32, `time`, `amount`); values are cut to fit.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Callable

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.config import Settings
from core.models import Notification, Order, OrderEvent, OrderStatus, Rating, Role, User
from core.services.people.authz import ROLE_LABELS, STAFF_ROLES
from core.services.people.notifications import notify, shown_time
from core.services.people.staff_deadlines import report_due_date

ORDER_PAGE = "/workbench/orders/{number}"


@dataclass(frozen=True)
class StaffTemplate:
    setting: str  # the environment variable holding the template id
    fields: tuple[tuple[str, str], ...]  # (template field, name in VALUES)
    links_to_order: bool = True  # the message opens the order's workbench page


STAFF_TEMPLATES: dict[str, StaffTemplate] = {
    "order_paid": StaffTemplate("WECHAT_TEMPLATE_ORDER_PAID", (
        ("character_string1", "order_number"), ("thing2", "service"), ("thing3", "customer"),
        ("amount4", "amount"), ("time5", "created"))),
    "samples_due": StaffTemplate("WECHAT_TEMPLATE_SAMPLES_DUE", (
        ("character_string1", "order_number"), ("thing2", "service"), ("thing3", "customer"),
        ("time4", "handover"))),
    "report_overdue": StaffTemplate("WECHAT_TEMPLATE_REPORT_OVERDUE", (
        ("character_string1", "order_number"), ("thing2", "service"), ("thing3", "customer"),
        ("time4", "report_due"))),
    # the lab's copy and the platform admins' copy of a new dispute
    "order_disputed": StaffTemplate("WECHAT_TEMPLATE_DISPUTE", (
        ("character_string1", "order_number"), ("thing2", "service"), ("thing3", "dispute_reason"),
        ("time4", "created"))),
    "dispute": StaffTemplate("WECHAT_TEMPLATE_DISPUTE", (
        ("character_string1", "order_number"), ("thing2", "service"), ("thing3", "dispute_reason"),
        ("time4", "created"))),
    "order_rated": StaffTemplate("WECHAT_TEMPLATE_RATING", (
        ("character_string1", "order_number"), ("thing2", "service"), ("thing3", "rating"),
        ("time4", "created"))),
    "voucher_application": StaffTemplate("WECHAT_TEMPLATE_VOUCHER_APPLICATION", (
        ("thing1", "title"), ("time2", "created")), links_to_order=False),
}

# the longest value WeChat takes in a field of each type
_LIMITS = {"thing": 20, "character_string": 32, "phrase": 5, "name": 10, "car_number": 8}


@dataclass(frozen=True)
class TemplateMessage:
    openid: str
    template_id: str
    data: dict[str, dict[str, str]]
    url: str | None


@dataclass
class _Context:
    session: Session
    note: Notification
    order: Order | None
    settings: Settings

    def shown(self, moment: datetime) -> str:
        return shown_time(moment, self.settings.orders.timezone)


def _order_value(read: Callable[[_Context, Order], str]) -> Callable[[_Context], str]:
    return lambda ctx: read(ctx, ctx.order) if ctx.order is not None else "-"


def _handover(ctx: _Context, order: Order) -> str:
    return ctx.shown(order.slot_start) if order.slot_start is not None else str(order.delivery_date or "-")


def _report_due(ctx: _Context, order: Order) -> str:
    due = report_due_date(ctx.session, order, ctx.settings.orders.timezone)
    return str(due) if due else "-"


def _dispute_reason(ctx: _Context, order: Order) -> str:
    reason = ctx.session.scalar(select(OrderEvent.reason).where(
        OrderEvent.order_id == order.id, OrderEvent.to_status == OrderStatus.disputed.value)
        .order_by(OrderEvent.id.desc()).limit(1))
    return reason or ctx.note.body


def _rating(ctx: _Context, order: Order) -> str:
    rating = ctx.session.scalar(select(Rating).where(Rating.order_id == order.id))
    if rating is None:
        return ctx.note.body
    return f"{rating.stars}星" + (f" {rating.comment}" if rating.comment else "")


VALUES: dict[str, Callable[[_Context], str]] = {
    "order_number": _order_value(lambda ctx, o: o.number),
    "service": _order_value(lambda ctx, o: o.service.name),
    "customer": _order_value(lambda ctx, o: o.company_name),
    "amount": _order_value(lambda ctx, o: f"{o.total_cents / 100:.2f}元"),
    "handover": _order_value(_handover),
    "report_due": _order_value(_report_due),
    "dispute_reason": _order_value(_dispute_reason),
    "rating": _order_value(_rating),
    "created": lambda ctx: ctx.shown(ctx.note.created_at),
    "title": lambda ctx: ctx.note.title,
    "detail": lambda ctx: ctx.note.body,
}


def _fit(field: str, value: str) -> str:
    limit = _LIMITS.get(field.rstrip("0123456789"))
    if limit is None or len(value) <= limit:
        return value
    return value[:limit - 1] + "…"


def reachable_openid(user: User) -> str | None:
    """The official openid of a staff member who bound their WeChat (demo scans reach nobody)."""
    openid = user.official_openid
    if user.role not in STAFF_ROLES or not openid or openid.startswith("demo-"):
        return None
    return openid


def order_link(settings: Settings, number: str) -> str:
    return settings.public_base_url + ORDER_PAGE.format(number=number)


def template_message(session: Session, note: Notification, user: User, settings: Settings) -> TemplateMessage | None:
    """The template message for a staff notification, or None (no binding, no template for the kind)."""
    spec = STAFF_TEMPLATES.get(note.kind)
    openid = reachable_openid(user)
    template_id = settings.wechat.get(spec.setting) if spec else None
    if spec is None or openid is None or not template_id:
        return None
    ctx = _Context(session, note, session.get(Order, note.order_id) if note.order_id else None, settings)
    data = {field: {"value": _fit(field, VALUES[name](ctx))} for field, name in spec.fields}
    url = order_link(settings, ctx.order.number) if spec.links_to_order and ctx.order is not None else None
    return TemplateMessage(openid, template_id, data, url)


@dataclass(frozen=True)
class Email:
    to: tuple[str, ...]
    subject: str
    body: str


def email_for(session: Session, note: Notification, user: User, settings: Settings) -> Email | None:
    """The e-mail copy of a staff notification. Accounts have no address of their own, so copies go
    to SMTP_FALLBACK_TO, saying whom they are for."""
    if settings.smtp is None or user.role not in STAFF_ROLES:
        return None
    order = session.get(Order, note.order_id) if note.order_id else None
    lines = [f"致 {user.display_name}（{ROLE_LABELS.get(user.role, user.role.value)}）：", "", note.body, "",
             f"时间：{shown_time(note.created_at, settings.orders.timezone)}"]
    if order is not None:
        lines.append(f"查看订单：{order_link(settings, order.number)}")
    lines += ["", "此邮件由平台自动发送，请勿直接回复。"]
    return Email(settings.smtp.to, f"【仪器共享平台】{note.title}（{user.display_name}）", "\n".join(lines))


def platform_admins(session: Session) -> list[User]:
    return list(session.scalars(select(User).where(User.role == Role.platform_admin, User.active.is_(True))))


def notify_admins(session: Session, kind: str, title: str, body: str, order_id: int | None = None) -> None:
    """Every active platform admin: inbox row, and a template message / e-mail by the notification job."""
    for admin in platform_admins(session):
        notify(session, admin.id, kind, title, body, order_id)
