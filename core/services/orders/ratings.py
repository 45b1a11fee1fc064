"""Ratings of settled orders (once each) and the lab's reply; averages feed the service page and ranking."""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from core.errors import BusinessRuleViolation, Conflict, InvalidInput, NotFound
from core.models import OrderStatus, Rating, Role, Service, User
from core.models._types import utcnow
from core.services.orders import lifecycle as orders
from core.services.people.authz import require_role
from core.services.people.notifications import notify_lab


def rate(session: Session, actor: User, number: str, stars: int, comment: str | None) -> Rating:
    require_role(actor, Role.enterprise)
    order = orders.load_order(session, actor, number)
    if order.status != OrderStatus.settled:
        raise BusinessRuleViolation("订单结算后才能评价。", code="not_settled")
    if not 1 <= stars <= 5:
        raise InvalidInput("评分须为 1 到 5 星。", code="invalid_stars")
    rating = Rating(order_id=order.id, service_id=order.service_id, user_id=actor.id, stars=stars,
                    comment=(comment or "").strip() or None)
    try:
        with session.begin_nested():
            session.add(rating)
            session.flush()
    except IntegrityError:
        raise Conflict("该订单已评价过。", code="already_rated") from None
    notify_lab(session, order, "order_rated", "收到新的评价",
               f"订单 {order.number}（{order.service.name}）获得 {stars} 星评价"
               + (f"：{rating.comment}" if rating.comment else "") + "。可在工作台回复。")
    return rating


def reply(session: Session, actor: User, number: str, text: str) -> Rating:
    require_role(actor, Role.lab_staff, Role.institution_admin)
    order = orders.load_order(session, actor, number)
    rating = session.scalar(select(Rating).where(Rating.order_id == order.id))
    if rating is None:
        raise NotFound("该订单还没有评价，无法回复。", code="rating_not_found")
    if not text.strip():
        raise InvalidInput("回复内容不能为空。", code="reply_required")
    rating.lab_reply, rating.replied_at = text.strip(), utcnow()
    session.flush()
    return rating


@dataclass(frozen=True)
class RatingSummary:
    average: float | None
    count: int
    recent: list[Rating]


def service_ratings(session: Session, service: Service, recent: int = 5) -> RatingSummary:
    avg, count = session.execute(select(func.avg(Rating.stars), func.count(Rating.id))
                                 .where(Rating.service_id == service.id)).one()
    rows = session.scalars(select(Rating).where(Rating.service_id == service.id)
                           .order_by(Rating.id.desc()).limit(recent)).all()
    return RatingSummary(round(float(avg), 2) if avg is not None else None, int(count), list(rows))


def rating_signals(session: Session) -> dict[str, tuple[float, int]]:
    """Service code -> (average stars, count), for the search ranking's small rating signal."""
    rows = session.execute(select(Service.code, func.avg(Rating.stars), func.count(Rating.id))
                           .join(Rating, Rating.service_id == Service.id).group_by(Service.code))
    return {code: (float(avg), int(n)) for code, avg, n in rows}
