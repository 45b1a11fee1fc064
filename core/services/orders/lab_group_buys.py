"""A lab's group-buys: its campaigns with their progress, and closing one before its deadline.

Closing early is the deadline job's work done now: the deadline is moved to this moment and
group_buy.close_campaign runs (one batch if the minimum was reached, else full refunds); the job,
when it comes, finds the campaign closed and does nothing."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.config import Settings
from core.errors import NotFound
from core.models import GroupBuyCampaign, Instrument, Order, OrderStatus, Role, Service, User
from core.models._types import utcnow
from core.services.orders import group_buy
from core.services.orders.slots import as_utc
from core.services.people.authz import require_role

STATUS_LABELS = {"open": "进行中", "confirmed": "已成团", "failed": "未成团"}
_PAID_OR_LATER = (OrderStatus.paid, OrderStatus.accepted)


@dataclass(frozen=True)
class LabCampaign:
    progress: group_buy.Progress
    participants: int  # paid orders in the campaign

    @property
    def status_label(self) -> str:
        return STATUS_LABELS.get(self.progress.campaign.status, self.progress.campaign.status)

    @property
    def percent(self) -> int:
        """Paid samples against the campaign's capacity, for the progress bar."""
        return min(100, round(100 * self.progress.paid_samples / max(1, self.progress.campaign.max_samples)))

    @property
    def target_percent(self) -> int:
        return min(100, round(100 * self.progress.campaign.min_samples / max(1, self.progress.campaign.max_samples)))

    @property
    def reached(self) -> bool:
        return self.progress.paid_samples >= self.progress.campaign.min_samples


def _of_institution(institution_id: int | None):  # type: ignore[no-untyped-def]
    return (select(GroupBuyCampaign.id).join(Service, GroupBuyCampaign.service_id == Service.id)
            .join(Instrument, Service.instrument_id == Instrument.id)
            .where(Instrument.institution_id == institution_id))


def campaigns_of(session: Session, institution_id: int | None, limit: int = 100) -> list[LabCampaign]:
    """The institution's campaigns, open ones first (soonest deadline first), then the most recent."""
    ids = session.scalars(_of_institution(institution_id).order_by(GroupBuyCampaign.id.desc()).limit(limit)).all()
    counts = dict(session.execute(
        select(Order.campaign_id, func.count(Order.id)).where(Order.campaign_id.in_(ids),
                                                              Order.status.in_(_PAID_OR_LATER))
        .group_by(Order.campaign_id)).all()) if ids else {}
    found = [LabCampaign(group_buy.progress(session, i), int(counts.get(i, 0))) for i in ids]
    # open campaigns by nearest deadline; closed ones stay newest first
    return sorted(found, key=lambda c: (c.progress.campaign.status != "open",
                                        as_utc(c.progress.campaign.deadline).timestamp()
                                        * (1 if c.progress.campaign.status == "open" else -1)))


def lab_campaign(session: Session, institution_id: int | None, campaign_id: int) -> GroupBuyCampaign:
    found = session.scalar(_of_institution(institution_id).where(GroupBuyCampaign.id == campaign_id))
    if found is None:
        raise NotFound(f"您的实验室没有团购 {campaign_id}。", code="campaign_not_found")
    return session.get(GroupBuyCampaign, found)  # type: ignore[return-value]


def same_open_campaign(session: Session, service_code: str, *, min_samples: int, max_samples: int,
                       group_price_cents: int, deadline: datetime, run_date: date) -> GroupBuyCampaign | None:
    """An open campaign identical to the one about to be opened: a form sent twice opens one."""
    return session.scalar(
        select(GroupBuyCampaign).join(Service, GroupBuyCampaign.service_id == Service.id)
        .where(Service.code == service_code, GroupBuyCampaign.status == "open",
               GroupBuyCampaign.min_samples == min_samples, GroupBuyCampaign.max_samples == max_samples,
               GroupBuyCampaign.group_price_cents == group_price_cents,
               GroupBuyCampaign.deadline == as_utc(deadline), GroupBuyCampaign.run_date == run_date).limit(1))


def close_now(session: Session, actor: User, campaign_id: int, settings: Settings,
              now: datetime | None = None) -> tuple[str, bool]:
    """End the campaign at once; answers its status and whether this call closed it."""
    require_role(actor, Role.lab_staff, Role.institution_admin)
    now = now or utcnow()
    campaign = lab_campaign(session, actor.institution_id, campaign_id)
    if campaign.status != "open":
        return campaign.status, False
    if as_utc(campaign.deadline) > now:
        campaign.deadline = now
        session.flush()
    status = group_buy.close_campaign(session, campaign.id, settings, now)
    return status or campaign.status, status is not None
