"""Orders: creation with a server-computed price, and every state transition
(checked against order_rules.MOVES, written to the audit log, money through escrow)."""
from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from core.config import Settings
from core.errors import BusinessRuleViolation, Conflict, Forbidden, InvalidInput, NotFound
from core.models import (
    DeliveryMode, GroupBuyCampaign, Institution, Instrument, OnboardingStatus, Order, OrderEvent, OrderStatus, Role,
    Service, User,
)
from core.models.review import APPROVED
from core.models._types import utcnow
from core.queue import AUTO_CONFIRM_JOB, EXPIRE_ORDER_JOB, REMIND_CONFIRM_JOB, defer
from core.services.orders import escrow, slots, vouchers
from core.services.people.authz import ROLE_LABELS, require_role
from core.services.people.notifications import notify, notify_lab, shown_time
from core.services.people.staff_alerts import notify_admins
from core.services.orders.order_rules import FREES_SLOT, LAB, MOVES


@dataclass(frozen=True)
class NewOrder:
    service_code: str
    samples: int
    sample_description: str
    mode: DeliveryMode
    slot_start: datetime | None = None
    delivery_date: date | None = None
    contact_name: str | None = None
    contact_phone: str | None = None
    voucher_id: int | None = None
    voucher_cny: float | None = None  # None: as much as the scheme allows
    expected_total_cny: float | None = None  # what the client showed; checked, never trusted
    campaign_id: int | None = None


# what a person reads for a status and a move in MOVES (the slugs stay in `details`)
STATUS_LABELS = {
    OrderStatus.created: "待付款", OrderStatus.awaiting_payment: "付款中", OrderStatus.paid: "已付款",
    OrderStatus.accepted: "已接单", OrderStatus.rejected: "已拒单", OrderStatus.samples_received: "已收样",
    OrderStatus.testing: "检测中", OrderStatus.report_issued: "报告已出", OrderStatus.confirmed: "已确认",
    OrderStatus.settled: "已结算", OrderStatus.cancelled: "已取消", OrderStatus.expired: "已过期",
    OrderStatus.no_show: "预约未到", OrderStatus.disputed: "有异议", OrderStatus.refunded: "已退款",
}
ACTION_LABELS = {
    "start_payment": "付款", "pay": "确认到账", "expire": "作废", "cancel": "取消", "accept": "接单",
    "reject": "拒单", "receive_samples": "确认收样", "no_show": "登记预约未到", "start_testing": "开始检测",
    "issue_report": "出具报告", "confirm": "确认报告", "auto_confirm": "自动确认", "dispute": "提出异议",
    "settle": "结算", "resolve_release": "裁定放款给实验室", "resolve_partial": "裁定部分退款",
    "resolve_refund": "裁定全额退款", "group_confirm": "拼单成团", "group_refund": "拼单退款",
}
_OUTCOME_LABELS = {"release": "争议已裁定，款项结算给实验室", "partial": "争议已裁定，部分退款",
                   "refund": "争议已裁定，全额退款"}


def _cents(cny: float) -> int:
    return round(cny * 100)


def _new_number(now: datetime) -> str:
    return f"O{now:%Y%m%d}{secrets.token_hex(4).upper()}"


def _bookable_service(session: Session, code: str) -> tuple[Service, Instrument, Institution]:
    row = session.execute(
        select(Service, Instrument, Institution).join(Instrument, Service.instrument_id == Instrument.id)
        .join(Institution, Instrument.institution_id == Institution.id).where(Service.code == code)).first()
    if row is None or not row[0].active or not row[1].open_for_sharing:
        raise NotFound(f"检测服务 {code} 不存在或暂不可预约。", code="service_not_found")
    if row[2].status != OnboardingStatus.approved:
        raise BusinessRuleViolation("该实验室目前未通过平台审核，暂不能下单。", code="institution_not_approved")
    if row[0].review_status != APPROVED or row[1].review_status != APPROVED:
        raise BusinessRuleViolation("该检测服务尚未通过平台审核，暂不能下单。", code="listing_not_approved")
    return row[0], row[1], row[2]


def create_order(session: Session, actor: User, new: NewOrder, settings: Settings, now: datetime | None = None) -> Order:
    require_role(actor, Role.enterprise)
    now = now or utcnow()
    rules = settings.orders
    if new.samples <= 0:
        raise InvalidInput("样品数量至少为 1。", code="invalid_samples")
    if not new.sample_description.strip():
        raise InvalidInput("请描述样品（是什么、多少、如何包装）。", code="sample_description_required")
    contact_name = (new.contact_name or actor.contact_name or "").strip()
    contact_phone = (new.contact_phone or actor.contact_phone or "").strip()
    if not actor.company_name or not contact_name or not contact_phone:
        raise BusinessRuleViolation("请先填写企业信息和联系人（PUT /api/v1/me/company），或在订单中填写联系人姓名和电话。",
                                    code="company_required")
    service, instrument, institution = _bookable_service(session, new.service_code)
    unit_cents = _cents(float(service.price_cny))
    campaign = None
    if new.campaign_id is not None:
        campaign = session.get(GroupBuyCampaign, new.campaign_id)
        if campaign is None or campaign.service_id != service.id:
            raise NotFound("该检测服务没有这个拼单。", code="campaign_not_found")
        if campaign.status != "open" or slots.as_utc(campaign.deadline) <= now:
            raise BusinessRuleViolation("该拼单已截止。", code="campaign_closed")
        unit_cents = campaign.group_price_cents
    order = Order(
        number=_new_number(now), user_id=actor.id, service_id=service.id, instrument_id=instrument.id,
        institution_id=institution.id, campaign_id=new.campaign_id, samples=new.samples,
        sample_description=new.sample_description.strip(), company_name=actor.company_name,
        company_credit_code=actor.company_credit_code, contact_name=contact_name, contact_phone=contact_phone,
        mode=new.mode, unit_price_cents=unit_cents, total_cents=unit_cents * new.samples, voucher_cents=0,
        status=OrderStatus.created, expires_at=now + timedelta(minutes=rules.payment_minutes), created_at=now,
    )
    if new.expected_total_cny is not None and _cents(new.expected_total_cny) != order.total_cents:
        raise Conflict(f"订单金额为 {order.total_cents / 100:.2f} 元，不是 {new.expected_total_cny:.2f} 元；"
                       "价格以平台计算为准。", code="price_mismatch",
                       details={"total_cny": order.total_cents / 100})
    if campaign is not None:
        order.delivery_date = campaign.run_date
        order.mode = DeliveryMode.mail
    elif new.mode == DeliveryMode.visit:
        if new.slot_start is None:
            raise InvalidInput("到实验室检测须选择预约时段（slot_start，您到实验室的时间）。", code="slot_required")
        start = slots.as_utc(new.slot_start)
        end = start + slots.slot_length(service.duration_minutes, new.samples, rules)
        slots.check_bookable(session, instrument.id, start, end, rules, now)
        order.slot_start, order.slot_end = start, end
    else:
        if new.delivery_date is None or new.delivery_date < now.date():
            raise InvalidInput("寄送样品须填写送达日期（delivery_date），不得早于今天。", code="delivery_date_required")
        order.delivery_date = new.delivery_date
    if new.voucher_id is not None:
        voucher = vouchers.usable_voucher(session, new.voucher_id, actor, now.date())
        asked = None if new.voucher_cny is None else _cents(new.voucher_cny)
        if asked is not None and asked < 0:
            raise InvalidInput("创新券抵扣金额不能为负数。", code="invalid_voucher_amount")
        order.voucher_cents = min(vouchers.voucher_share(order.total_cents, asked, settings.vouchers),
                                  voucher.available_cents)
        order.voucher_id = voucher.id if order.voucher_cents else None
    session.add(order)
    session.flush()
    if campaign is not None:
        _take_campaign_places(session, campaign, order.samples)
    if order.slot_start is not None:
        slots.hold(session, order, rules)
    _event(session, order, actor, None, OrderStatus.created, "用户下单")
    defer(session, EXPIRE_ORDER_JOB, order.id, at=order.expires_at)
    return order


def _take_campaign_places(session: Session, campaign: GroupBuyCampaign, samples: int) -> None:
    taken = session.execute(
        update(GroupBuyCampaign).where(GroupBuyCampaign.id == campaign.id, GroupBuyCampaign.status == "open",
                                       GroupBuyCampaign.joined_samples + samples <= GroupBuyCampaign.max_samples)
        .values(joined_samples=GroupBuyCampaign.joined_samples + samples).execution_options(synchronize_session=False)
    ).rowcount
    if taken != 1:
        raise Conflict("该拼单剩余名额不足以容纳这么多样品。", code="campaign_full")


def _give_back_campaign_places(session: Session, order: Order) -> None:
    if order.campaign_id is not None:
        session.execute(update(GroupBuyCampaign).where(GroupBuyCampaign.id == order.campaign_id)
                        .values(joined_samples=GroupBuyCampaign.joined_samples - order.samples)
                        .execution_options(synchronize_session=False))


def _event(session: Session, order: Order, actor: User | None, source: OrderStatus | None, target: OrderStatus,
           reason: str | None) -> None:
    session.add(OrderEvent(order_id=order.id, actor_id=actor.id if actor else None,
                           actor_role=actor.role.value if actor else "system", from_status=source.value if source else None,
                           to_status=target.value, reason=reason))


def load_order(session: Session, actor: User | None, number: str, lock: bool = False) -> Order:
    """The order if `actor` may see it (owner, that lab, platform admin; None = the system)."""
    query = select(Order).where(Order.number == number)
    if lock:
        query = query.with_for_update()
    order = session.scalar(query)
    if order is None or (actor is not None and not can_see(actor, order)):
        raise NotFound(f"没有订单 {number}。", code="order_not_found")
    return order


def can_see(actor: User, order: Order) -> bool:
    if actor.role == Role.platform_admin:
        return True
    if actor.role in LAB:
        return actor.institution_id == order.institution_id
    return actor.id == order.user_id


def move(session: Session, order: Order, action: str, actor: User | None, reason: str | None = None) -> None:
    """Apply one transition from MOVES, or refuse it (403 wrong role, 409 wrong state) without changing anything."""
    rule = MOVES[action]
    if actor is not None and actor.role not in rule.roles:
        raise Forbidden(f"{ROLE_LABELS.get(actor.role, actor.role.value)}无权对订单执行“{ACTION_LABELS.get(action, action)}”。",
                        code="role_not_allowed")
    if order.status not in rule.sources:
        raise Conflict(f"订单 {order.number} 当前为“{STATUS_LABELS.get(order.status, order.status.value)}”状态，"
                       f"不能“{ACTION_LABELS.get(action, action)}”。",
                       code="wrong_state", details={"status": order.status.value,
                                                     "allowed_from": sorted(s.value for s in rule.sources)})
    source = order.status
    order.status = rule.target
    order.updated_at = utcnow()
    _event(session, order, actor, source, rule.target, reason)
    if rule.target in FREES_SLOT:
        slots.release(session, order.id)
        if source in (OrderStatus.created, OrderStatus.awaiting_payment):
            _give_back_campaign_places(session, order)
    session.flush()


def _customer(order: Order) -> str:
    return f"{order.company_name}（{order.contact_name}）"


def mark_paid(session: Session, order: Order, settings: Settings) -> None:
    move(session, order, "pay", None, "已收到付款")
    notify_lab(session, order, "order_paid", "新的已付款订单",
               f"订单 {order.number}：{order.service.name}，{order.samples} 个样品，{_customer(order)}。请尽快接单或拒单。")


def accept(session: Session, actor: User, number: str, note: str | None = None,
           timezone: str = "Asia/Shanghai") -> Order:
    order = load_order(session, actor, number, lock=True)
    move(session, order, "accept", actor, note)
    notify(session, order.user_id, "order_accepted", "实验室已接单",
           f"订单 {order.number}（{order.service.name}）已被实验室接单。" + _handover_hint(order, timezone), order.id)
    return order


def _handover_hint(order: Order, timezone: str) -> str:
    if order.slot_start is not None:
        return f"请按预约时间 {shown_time(order.slot_start, timezone)} 到实验室。"
    return f"请在 {order.delivery_date} 前寄送样品。"


def reject(session: Session, actor: User, number: str, reason: str, settings: Settings) -> Order:
    if not reason.strip():
        raise InvalidInput("请填写拒单理由，以便告知用户。", code="reason_required")
    order = load_order(session, actor, number, lock=True)
    move(session, order, "reject", actor, reason)
    escrow.close(session, order, 0, settings.vouchers)
    notify(session, order.user_id, "order_rejected", "实验室未能接单",
           f"订单 {order.number} 被拒：{reason}。款项将全额退回，创新券额度已恢复。", order.id)
    return order


def lab_step(session: Session, actor: User, number: str, action: str, note: str | None = None) -> Order:
    """samples received / start testing: plain moves with no money."""
    order = load_order(session, actor, number, lock=True)
    move(session, order, action, actor, note)
    return order


def report_issued(session: Session, actor: User, order: Order, settings: Settings, now: datetime | None = None) -> None:
    now = now or utcnow()
    move(session, order, "issue_report", actor, "已上传检测报告")
    order.auto_confirm_at = now + timedelta(days=settings.orders.auto_confirm_days)
    notify(session, order.user_id, "report_ready", "检测报告已出",
           f"订单 {order.number} 的报告已上传，请查看并确认；{settings.orders.auto_confirm_days} 天内无异议将自动确认。", order.id)
    defer(session, AUTO_CONFIRM_JOB, order.id, at=order.auto_confirm_at)
    defer(session, REMIND_CONFIRM_JOB, order.id, at=order.auto_confirm_at - timedelta(days=1))


def _settle(session: Session, order: Order, lab_fee_cents: int, settings: Settings, reason: str) -> None:
    escrow.close(session, order, lab_fee_cents, settings.vouchers)
    if order.status == OrderStatus.confirmed:
        move(session, order, "settle", None, reason)


def confirm(session: Session, actor: User, number: str, settings: Settings) -> Order:
    order = load_order(session, actor, number, lock=True)
    move(session, order, "confirm", actor, "用户确认报告")
    _settle(session, order, order.total_cents, settings, "用户确认后结算")
    return order


def auto_confirm(session: Session, order_id: int, settings: Settings, now: datetime | None = None) -> bool:
    """The job's side: confirm and settle if the report is still undisputed past its date. Idempotent."""
    now = now or utcnow()
    order = session.get(Order, order_id, with_for_update=True)
    if order is None or order.status != OrderStatus.report_issued or order.auto_confirm_at is None:
        return False
    if slots.as_utc(order.auto_confirm_at) > now:
        return False
    move(session, order, "auto_confirm", None, f"{settings.orders.auto_confirm_days} 天内无异议，自动确认")
    _settle(session, order, order.total_cents, settings, "自动确认后结算")
    return True


def dispute(session: Session, actor: User, number: str, reason: str) -> Order:
    if not reason.strip():
        raise InvalidInput("请说明报告有什么问题。", code="reason_required")
    order = load_order(session, actor, number, lock=True)
    move(session, order, "dispute", actor, reason)
    notify_lab(session, order, "order_disputed", "用户对报告有异议", f"订单 {order.number}：{reason}。平台将介入处理。")
    lab = session.get(Institution, order.institution_id)
    notify_admins(session, "dispute", "新的订单争议",
                  f"订单 {order.number}（{order.service.name}，{lab.name if lab else ''}）：{_customer(order)}对报告提出异议："
                  f"{reason}。请在平台后台裁定。", order.id)
    return order


def resolve_dispute(session: Session, actor: User, number: str, outcome: str, settings: Settings,
                    refund_cny: float | None = None, reason: str = "") -> Order:
    order = load_order(session, actor, number, lock=True)
    if outcome == "release":
        move(session, order, "resolve_release", actor, reason or "款项结算给实验室")
        escrow.close(session, order, order.total_cents, settings.vouchers)
    elif outcome == "partial":
        refund = _cents(refund_cny or 0)
        if not 0 < refund < order.total_cents:
            raise InvalidInput(f"部分退款金额须在 0.01 到 {order.total_cents / 100 - 0.01:.2f} 元之间。",
                               code="invalid_refund")
        move(session, order, "resolve_partial", actor, reason or f"部分退款 {refund / 100:.2f} 元")
        escrow.close(session, order, order.total_cents - refund, settings.vouchers)
    elif outcome == "refund":
        move(session, order, "resolve_refund", actor, reason or "全额退款")
        escrow.close(session, order, 0, settings.vouchers)
    else:
        raise InvalidInput("outcome 须为 release（放款给实验室）、partial（部分退款）或 refund（全额退款）。", code="invalid_outcome")
    notify(session, order.user_id, "dispute_resolved", "争议已处理",
           f"订单 {order.number}：{_OUTCOME_LABELS[outcome]}。{reason}", order.id)
    return order


def cancel(session: Session, actor: User, number: str, reason: str, settings: Settings) -> Order:
    """Free before the lab accepts; afterwards the lab keeps its cancellation share."""
    order = load_order(session, actor, number, lock=True)
    source = order.status
    move(session, order, "cancel", actor, reason or "用户取消订单")
    if source in (OrderStatus.created, OrderStatus.awaiting_payment):
        escrow.close(session, order, 0, settings.vouchers, paid=False)
    elif source == OrderStatus.paid:
        escrow.close(session, order, 0, settings.vouchers)
    else:
        escrow.close(session, order, _lab_share(session, order), settings.vouchers)
        notify_lab(session, order, "order_cancelled", "订单已取消", f"订单 {order.number} 已被用户取消：{reason}")
    return order


def _lab_share(session: Session, order: Order) -> int:
    pct = session.get(Institution, order.institution_id).cancellation_fee_pct  # type: ignore[union-attr]
    return order.total_cents * pct // 100


def no_show(session: Session, actor: User, number: str, settings: Settings, now: datetime | None = None) -> Order:
    now = now or utcnow()
    order = load_order(session, actor, number, lock=True)
    if order.slot_end is None or slots.as_utc(order.slot_end) > now:
        raise BusinessRuleViolation("预约时段结束后才能登记预约未到。", code="slot_not_over")
    move(session, order, "no_show", actor, "用户未按预约到场")
    escrow.close(session, order, _lab_share(session, order), settings.vouchers)
    notify(session, order.user_id, "order_no_show", "预约未到",
           f"订单 {order.number}：实验室记录您未按预约到场，按规则扣除部分费用，其余退回。", order.id)
    return order


def expire(session: Session, order_id: int, settings: Settings, now: datetime | None = None) -> bool:
    """The job's side: an order unpaid past its time frees its slot and voucher. Idempotent."""
    now = now or utcnow()
    order = session.get(Order, order_id, with_for_update=True)
    if order is None or order.status not in (OrderStatus.created, OrderStatus.awaiting_payment):
        return False
    if order.expires_at is None or slots.as_utc(order.expires_at) > now:
        return False
    move(session, order, "expire", None, f"超过 {settings.orders.payment_minutes} 分钟未付款")
    escrow.close(session, order, 0, settings.vouchers, paid=False)
    return True


def orders_of(session: Session, actor: User, status: str | None = None, limit: int = 50) -> list[Order]:
    query = select(Order)
    if actor.role in LAB:
        query = query.where(Order.institution_id == actor.institution_id)
    elif actor.role != Role.platform_admin:
        query = query.where(Order.user_id == actor.id)
    if status:
        try:
            query = query.where(Order.status == OrderStatus(status))
        except ValueError:
            raise InvalidInput(f"未知的订单状态 {status!r}。", code="invalid_status",
                               details={"known": [s.value for s in OrderStatus]}) from None
    return list(session.scalars(query.order_by(Order.id.desc()).limit(limit)))


def load_order_by_id(session: Session, order_id: int) -> Order:
    order = session.get(Order, order_id)
    if order is None:
        raise NotFound(f"没有订单 {order_id}。", code="order_not_found")
    return order
