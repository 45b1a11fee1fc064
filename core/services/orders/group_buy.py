"""Group-buy campaigns: open, show progress, and close at the deadline (batch or full refunds)."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.config import Settings
from core.errors import InvalidInput, NotFound
from core.models import GroupBuyCampaign, Instrument, Order, OrderStatus, Role, Service, User
from core.models._types import utcnow
from core.queue import CLOSE_CAMPAIGN_JOB, defer
from core.services.orders import escrow, slots
from core.services.orders import lifecycle as orders
from core.services.people.authz import require_role
from core.services.people.notifications import notify


def open_campaign(session: Session, actor: User, service_code: str, *, min_samples: int, max_samples: int,
                  group_price_cny: float, deadline: datetime, run_date: date, now: datetime | None = None) -> GroupBuyCampaign:
    require_role(actor, Role.lab_staff, Role.institution_admin, Role.platform_admin)
    now = now or utcnow()
    row = session.execute(select(Service, Instrument).join(Instrument, Service.instrument_id == Instrument.id)
                          .where(Service.code == service_code)).first()
    if row is None or (actor.role != Role.platform_admin and row[1].institution_id != actor.institution_id):
        raise NotFound(f"您的实验室没有检测服务 {service_code}。", code="service_not_found")
    if not 0 < min_samples <= max_samples:
        raise InvalidInput("成团样品数须满足 0 < min_samples ≤ max_samples。", code="invalid_campaign_size")
    if group_price_cny <= 0:
        raise InvalidInput("拼单价必须大于零。", code="invalid_price")
    deadline = slots.as_utc(deadline)
    if deadline <= now or run_date < deadline.date():
        raise InvalidInput("截止时间须晚于现在，统一检测日不得早于截止日。", code="invalid_dates")
    campaign = GroupBuyCampaign(service_id=row[0].id, created_by=actor.id, min_samples=min_samples,
                                max_samples=max_samples, group_price_cents=round(group_price_cny * 100),
                                deadline=deadline, run_date=run_date)
    session.add(campaign)
    session.flush()
    defer(session, CLOSE_CAMPAIGN_JOB, campaign.id, at=deadline)
    return campaign


@dataclass(frozen=True)
class Progress:
    campaign: GroupBuyCampaign
    service: Service
    paid_samples: int

    @property
    def label(self) -> str:
        return f"已拼 {self.paid_samples}/{self.campaign.max_samples} 样（满 {self.campaign.min_samples} 样成团）"


_PAID_OR_LATER = (OrderStatus.paid, OrderStatus.accepted)


def progress(session: Session, campaign_id: int) -> Progress:
    campaign = session.get(GroupBuyCampaign, campaign_id)
    if campaign is None:
        raise NotFound(f"没有拼单 {campaign_id}。", code="campaign_not_found")
    paid = session.scalar(select(func.coalesce(func.sum(Order.samples), 0)).where(
        Order.campaign_id == campaign.id, Order.status.in_(_PAID_OR_LATER)))
    return Progress(campaign, session.get(Service, campaign.service_id), int(paid))  # type: ignore[arg-type]


def open_campaigns(session: Session, now: datetime | None = None) -> list[Progress]:
    now = now or utcnow()
    ids = session.scalars(select(GroupBuyCampaign.id).where(GroupBuyCampaign.status == "open",
                                                            GroupBuyCampaign.deadline > now)
                          .order_by(GroupBuyCampaign.deadline)).all()
    return [progress(session, i) for i in ids]


def close_campaign(session: Session, campaign_id: int, settings: Settings, now: datetime | None = None) -> str | None:
    """At the deadline: one batch if the minimum was reached, else every order refunded. Idempotent."""
    now = now or utcnow()
    campaign = session.get(GroupBuyCampaign, campaign_id, with_for_update=True)
    if campaign is None or campaign.status != "open" or slots.as_utc(campaign.deadline) > now:
        return None
    state = progress(session, campaign_id)
    reached = state.paid_samples >= campaign.min_samples
    campaign.status, campaign.closed_at = ("confirmed" if reached else "failed"), now
    members = session.scalars(select(Order).where(Order.campaign_id == campaign.id).with_for_update()).all()
    for order in members:
        if order.status in (OrderStatus.created, OrderStatus.awaiting_payment):
            orders.move(session, order, "expire", None, "拼单截止时尚未付款")
            escrow.close(session, order, 0, settings.vouchers, paid=False)
        elif order.status == OrderStatus.paid and reached:
            orders.move(session, order, "group_confirm", None, f"拼单成团，{campaign.run_date} 统一检测")
            notify(session, order.user_id, "group_buy_confirmed", "拼单成功",
                   f"{state.service.name} 拼单成功（{state.paid_samples} 样），统一检测日 {campaign.run_date}，请按时寄样。", order.id)
        elif order.status == OrderStatus.paid:
            orders.move(session, order, "group_refund", None,
                        f"仅凑齐 {state.paid_samples} 个样品（需 {campaign.min_samples} 个），拼单未成")
            escrow.close(session, order, 0, settings.vouchers)
            notify(session, order.user_id, "group_buy_failed", "拼单未成团",
                   f"{state.service.name} 截止时只拼到 {state.paid_samples}/{campaign.min_samples} 样，款项全额退回。", order.id)
    session.flush()
    return campaign.status
