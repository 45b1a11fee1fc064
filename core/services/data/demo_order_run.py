"""The demo history's orders driven through the order services the API calls (demo_orders.py plans them).

The services run on the real clock: an order is created now, on a visit slot the same whole number of
weeks ahead of its planned one (same weekday and hour, so inside the same opening hours, and as free
of other plans as the planned slot), paid through the sandbox provider's signed notification, accepted,
tested, reported, confirmed, rated, disputed or cancelled as planned. Then its rows are moved back into
the simulated period: the order, its audit trail, slot cells, payment, ledger entries, refunds (made
at once with the sandbox, as the money worker would), report, rating and notifications, and its number,
which carries the day it was placed. The money itself never changes, so the ledger stays balanced.
"""
from __future__ import annotations

import math
import random
from collections import Counter
from datetime import datetime, timedelta
from typing import Sequence
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from core.config import Settings
from core.errors import AppError, BusinessRuleViolation
from core.models import (DeliveryMode, Institution, LedgerTransaction, Notification, Order, OrderEvent, Payment,
                         Rating, Refund, Report, SlotHold, User)
from core.models._types import local_today, utcnow
from core.models.refund import REFUND_REQUESTED
from core.payment_providers import get_provider
from core.payment_providers.sandbox import SandboxProvider
from core.report_storage import ReportStorage
from core.services.data.demo_history import DEMO_OPENID, HOUR, ProgressFactory, Window, utc
from core.services.data.demo_orders import OrderPlan
from core.services.orders import lifecycle, payments, ratings, refunds, reports
from core.services.orders.lifecycle import NewOrder
from core.services.orders.slots import as_utc
from core.services.people.auth import demo_user
from core.services.people.company import credit_code_check_character, update_company
from core.services.people.notifications import shown_time

# the demo's customers: (company, city, contact, the region code their credit codes start with)
CUSTOMERS = (
    ("重庆渝味食品有限公司", "重庆", "陈经理", "500106"), ("重庆长江新材料科技有限公司", "重庆", "刘工", "500112"),
    ("重庆山城汽车零部件有限公司", "重庆", "王工", "500113"), ("重庆两江检测技术服务有限公司", "重庆", "张主管", "500108"),
    ("杭州西溪生物医药有限公司", "杭州", "李博士", "330106"), ("杭州钱塘纺织科技有限公司", "杭州", "周经理", "330114"),
    ("杭州云栖电子有限公司", "杭州", "吴工", "330108"), ("宁波港城模具有限公司", "宁波", "郑工", "330203"),
    ("宁波甬江化工有限公司", "宁波", "孙经理", "330211"), ("成都天府食品有限公司", "成都", "赵经理", "510107"),
    ("成都锦城中药饮片有限公司", "成都", "黄主任", "510104"), ("上海浦江新能源科技有限公司", "上海", "徐工", "310115"),
    ("上海申城医疗器械有限公司", "上海", "朱经理", "310112"), ("深圳南山电池技术有限公司", "深圳", "林工", "440305"),
    ("深圳前海智能硬件有限公司", "深圳", "何经理", "440307"), ("北京中关村材料科技有限公司", "北京", "马博士", "110108"),
    ("温州瓯江鞋业有限公司", "温州", "叶经理", "330302"), ("武汉光谷光电有限公司", "武汉", "罗工", "420111"),
    ("西安高新航空部件有限公司", "西安", "高工", "610131"), ("广州黄埔化妆品有限公司", "广州", "梁经理", "440112"),
    ("南京江北环境科技有限公司", "南京", "宋工", "320111"), ("苏州工业园精密制造有限公司", "苏州", "沈经理", "320571"),
)
CUSTOMER_CITIES = tuple(city for _, city, _, _ in CUSTOMERS)
REPORT_PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
REASONS = {"cancel_free": "项目计划调整，暂不检测", "cancel_late": "样品未能按期准备好，取消本次检测",
           "reject": "该时段仪器需要维护，无法安排", "dispute": "报告中的样品名称与送检信息不符，请复核",
           "dispute_release": "复核确认报告无误，款项结算给实验室", "dispute_partial": "报告需重出，按约定部分退款",
           "dispute_refund": "检测方法与委托要求不符，全额退款"}
# notification kind → the step it tells of (anything else is dated at the order's last step)
NOTIFIED_AT = {"order_paid": "paid", "order_accepted": "accepted", "order_rejected": "rejected",
               "report_ready": "report_issued", "order_disputed": "disputed", "dispute": "disputed",
               "order_cancelled": "cancelled", "order_no_show": "no_show", "order_rated": "rated"}


def customers(session: Session, seed: int) -> list[User]:
    """The demo's enterprise customers with their companies (made once, found again later)."""
    rng = random.Random(f"{seed}:customers")
    people = []
    for index, (company, city, contact, region) in enumerate(CUSTOMERS):
        user = demo_user(session, f"{DEMO_OPENID}customer:{index}", contact, "enterprise", None)
        if not user.company_name:
            first17 = "91" + region + "".join(rng.choice("0123456789") for _ in range(9))
            update_company(session, user, company, first17 + credit_code_check_character(first17), contact,
                           f"138{rng.randrange(10**8):08d}")
        people.append(user)
    return people


def lab_staff(session: Session, institution: Institution) -> User:
    return demo_user(session, f"{DEMO_OPENID}lab:{institution.code}", f"{institution.name}值班员", "lab_staff",
                     institution.code)


def _drive(session: Session, plan: OrderPlan, customer: User, lab: User, admin: User, settings: Settings,
           provider: SandboxProvider, storage: ReportStorage, shift: timedelta) -> Order:
    """One order through the services, as the mini-program, the lab and the platform would drive it."""
    description = f"{(plan.sample_types or ['样品'])[0]} {plan.samples} 份，按要求包装送检"
    visit = plan.mode == "visit"
    order = lifecycle.create_order(session, customer, NewOrder(
        plan.service_code, plan.samples, description, DeliveryMode.visit if visit else DeliveryMode.mail,
        slot_start=utc(plan.start) + shift if visit else None,
        delivery_date=None if visit else local_today(settings.orders.timezone) + timedelta(days=2)), settings)
    number, outcome = order.number, plan.outcome
    payments.start_payment(session, customer, number, provider, settings, "127.0.0.1")
    payment = session.scalar(select(Payment).where(Payment.order_id == order.id))
    assert payment is not None
    payments.handle_notification(session, provider, provider.signed_notification(payment.out_trade_no,
                                                                                payment.amount_cents), {}, settings)
    if outcome == "cancel_free":
        return lifecycle.cancel(session, customer, number, REASONS[outcome], settings)
    if outcome == "reject":
        return lifecycle.reject(session, lab, number, REASONS[outcome], settings)
    lifecycle.accept(session, lab, number, None, settings.orders.timezone)
    if outcome == "cancel_late":
        return lifecycle.cancel(session, customer, number, REASONS[outcome], settings)
    if outcome == "no_show":
        assert order.slot_end is not None
        return lifecycle.no_show(session, lab, number, settings, now=order.slot_end + timedelta(hours=1))
    lifecycle.lab_step(session, lab, number, "receive_samples")
    lifecycle.lab_step(session, lab, number, "start_testing")
    reports.upload_report(session, lab, number, "检测报告.pdf", REPORT_PDF, storage, settings)
    if outcome == "auto":
        assert order.auto_confirm_at is not None
        lifecycle.auto_confirm(session, order.id, settings, now=order.auto_confirm_at + timedelta(minutes=1))
    elif outcome.startswith("dispute"):
        lifecycle.dispute(session, customer, number, REASONS["dispute"])
        kind = outcome.split("_", 1)[1]
        refund = max(1, math.floor(order.total_cents * 0.3 / 100)) if kind == "partial" else None
        lifecycle.resolve_dispute(session, admin, number, kind, settings, refund_cny=refund, reason=REASONS[outcome])
    else:
        lifecycle.confirm(session, customer, number, settings)
    if plan.stars is not None:
        ratings.rate(session, customer, number, plan.stars, plan.comment)
        if plan.reply:
            ratings.reply(session, lab, number, plan.reply)
    return order


def _refund_now(session: Session, order: Order, provider: SandboxProvider) -> None:
    """What the money worker does with each refund the order's ending asked for (the sandbox says yes)."""
    for refund_id in session.scalars(select(Refund.id).where(Refund.order_id == order.id,
                                                             Refund.status == REFUND_REQUESTED)).all():
        prepared = refunds.refund_request(session, refund_id)
        if prepared is not None:
            refunds.apply_refund_state(session, provider.refund(prepared[2]))


def _retime(session: Session, order: Order, plan: OrderPlan, shift: timedelta, settings: Settings) -> None:
    """Move every row of the order back to when the plan says each step happened."""
    t = {k: utc(v) for k, v in plan.times.items()}
    tz = settings.orders.timezone
    final = t[order.status.value]
    old, new = order.number, f"O{t['created']:%Y%m%d}{order.number[9:]}"
    swaps = {old: new}
    if order.slot_start is not None and order.slot_end is not None:
        swaps[shown_time(order.slot_start, tz)] = shown_time(order.slot_start - shift, tz)
        order.slot_start, order.slot_end = order.slot_start - shift, order.slot_end - shift
        for hold in session.scalars(select(SlotHold).where(SlotHold.order_id == order.id)):
            hold.cell_start = as_utc(hold.cell_start) - shift
    if order.delivery_date is not None:
        real = order.delivery_date
        arrived = plan.times.get("samples_received", plan.start)
        order.delivery_date = datetime.fromtimestamp(arrived, ZoneInfo(tz)).date()
        swaps[str(real)] = str(order.delivery_date)

    def swapped(text: str | None) -> str | None:
        for a, b in swaps.items():
            text = text.replace(a, b) if text else text
        return text

    order.number, order.created_at, order.updated_at = new, t["created"], final
    order.expires_at = t["created"] + timedelta(minutes=settings.orders.payment_minutes)
    if "report_issued" in t:
        order.auto_confirm_at = t["report_issued"] + timedelta(days=settings.orders.auto_confirm_days)
    for event in session.scalars(select(OrderEvent).where(OrderEvent.order_id == order.id)):
        event.at = t.get(event.to_status, final)
    for payment in session.scalars(select(Payment).where(Payment.order_id == order.id)):
        payment.out_trade_no = swapped(payment.out_trade_no)  # type: ignore[assignment]
        payment.created_at, payment.paid_at, payment.updated_at = t["awaiting_payment"], t["paid"], t["paid"]
    for tx in session.scalars(select(LedgerTransaction).where(LedgerTransaction.order_id == order.id)):
        tx.created_at, tx.memo = (t["paid"] if tx.kind == "payment" else final), swapped(tx.memo)
    for refund in session.scalars(select(Refund).where(Refund.order_id == order.id)):
        refund.out_refund_no = swapped(refund.out_refund_no)  # type: ignore[assignment]
        refund.created_at, refund.sent_at = final, final + timedelta(minutes=1)
        refund.confirmed_at = refund.updated_at = final + timedelta(minutes=12)
    for report in session.scalars(select(Report).where(Report.order_id == order.id)):
        report.uploaded_at = t["report_issued"]
    for rating in session.scalars(select(Rating).where(Rating.order_id == order.id)):
        rating.created_at, rating.replied_at = t["rated"], t.get("replied")
    for note in session.scalars(select(Notification).where(Notification.order_id == order.id)):
        note.created_at = t.get(NOTIFIED_AT.get(note.kind, ""), final)
        note.read_at = note.created_at + timedelta(hours=2)  # history: read long ago
        note.body = swapped(note.body)  # type: ignore[assignment]
    session.flush()


def run_orders(session: Session, plans: Sequence[OrderPlan], window: Window, seed: int, settings: Settings,
               storage: ReportStorage, progress: ProgressFactory, now: datetime | None = None) -> Counter[str]:
    """Drive every plan; a plan the services refuse (its slot taken by a real booking, say) is skipped
    whole and counted under its error code. Returns the count per outcome."""
    provider = get_provider(settings)
    if not isinstance(provider, SandboxProvider):
        raise BusinessRuleViolation("演示历史只用沙箱支付：请不要设置 PAYMENT_PROVIDER。", code="not_sandbox")
    now = now or utcnow()
    people = customers(session, seed)
    admin = demo_user(session, f"{DEMO_OPENID}platform", "平台运营（演示）", "platform_admin", None)
    institutions = {i.id: i for i in session.scalars(select(Institution))}
    staff: dict[int, User] = {}
    # whole weeks: the same weekday and hour, so the future slot is inside the same opening hours
    shift = timedelta(weeks=math.ceil((now - window.start).total_seconds() / (7 * 24 * HOUR)) + 2)
    counts: Counter[str] = Counter()
    with progress("订单（下单、付款、检测、结算、评价）", len(plans)) as bar:
        for plan in plans:
            iid = plan.profile.institution_id
            lab = staff.get(iid) or staff.setdefault(iid, lab_staff(session, institutions[iid]))
            try:
                with session.begin_nested():
                    order = _drive(session, plan, people[plan.customer], lab, admin, settings, provider, storage,
                                   shift)
                    _refund_now(session, order, provider)
                    _retime(session, order, plan, shift, settings)
                counts[plan.outcome] += 1
            except (AppError, IntegrityError) as exc:
                counts[f"skipped:{getattr(exc, 'code', 'conflict')}"] += 1
            bar.update(1)
    return counts

