"""RQ jobs. They take ids, are idempotent (each re-reads the row and does nothing
if the work is done), and let failures reach the queue, which retries them with
backoff (core.queue.DEFAULT_RETRY) and keeps the last failure in its registry."""
from __future__ import annotations

import logging
from datetime import timedelta

from rq import get_current_job
from sqlalchemy import select

from core.errors import DependencyUnavailable
from core.models import GroupBuyCampaign, Notification, Order, OrderStatus, User
from core.models._types import utcnow
from core.payment_providers import get_provider
from core.queue import AUTO_CONFIRM_JOB, CLOSE_CAMPAIGN_JOB, EXPIRE_ORDER_JOB, SEND_NOTIFICATION_JOB, defer
from core.services.orders import group_buy, payments
from core.services.orders import lifecycle as orders
from core.services.people.notifications import notify
from search_index.builder import sync_changes
from workers.runtime import current

log = logging.getLogger(__name__)


def sync_search_index() -> str | None:
    """Apply the outbox of changed listings to the index; returns the new version."""
    rt = current()
    with rt.platform.transaction() as session:
        report = sync_changes(session, rt.search.store, rt.search.encoder)
    if report.version:
        log.info("search index %s: %d listings changed", report.version, report.changed)
    return report.version


def send_wechat_text(openid: str, text: str) -> None:
    """Deliver a bot answer that was not ready within WeChat's passive-reply window."""
    from core.wechat_client import official_account_client

    rt = current()
    official_account_client(rt.platform.settings, rt.platform.redis).message.send_text(openid, text)


def _retries_left() -> int:
    job = get_current_job()
    return int(job.retries_left or 0) if job is not None else 0


def send_notification(notification_id: int) -> str:
    """Push an inbox notification to WeChat. Without a WeChat account to reach it stays
    in the inbox ('skipped'); after the last failed try it is marked 'failed' and the
    job fails too, so the queue's registry shows it."""
    from core.wechat_client import send_subscribe_message

    platform = current().platform
    with platform.transaction() as session:
        note = session.get(Notification, notification_id, with_for_update=True)
        if note is None or note.wechat_status in ("sent", "skipped", "failed"):
            return note.wechat_status if note else "missing"
        user = session.get(User, note.user_id)
        configured = platform.settings.wechat.get("WECHAT_SUBSCRIBE_TEMPLATE_ID")
        if user is None or not user.wechat_openid or user.wechat_openid.startswith("demo-") or not configured:
            note.wechat_status = "skipped"
            return "skipped"
        openid, title, body = user.wechat_openid, note.title, note.body
    try:
        send_subscribe_message(platform.settings, platform.redis, openid, title, body)
        outcome, error = "sent", None
    except DependencyUnavailable as exc:
        outcome, error = ("pending" if _retries_left() else "failed"), exc.message
    with platform.transaction() as session:
        note = session.get(Notification, notification_id, with_for_update=True)
        assert note is not None
        note.attempts += 1
        note.wechat_status, note.last_error = outcome, error
    if error is not None:
        raise DependencyUnavailable(f"notification {notification_id}: {error}")
    return outcome


def expire_unpaid_order(order_id: int) -> bool:
    platform = current().platform
    with platform.transaction() as session:
        return orders.expire(session, order_id, platform.settings)


def auto_confirm_order(order_id: int) -> bool:
    platform = current().platform
    with platform.transaction() as session:
        return orders.auto_confirm(session, order_id, platform.settings)


def remind_before_auto_confirm(order_id: int) -> bool:
    platform = current().platform
    with platform.transaction() as session:
        order = session.get(Order, order_id)
        if order is None or order.status != OrderStatus.report_issued:
            return False
        already = session.scalar(select(Notification.id).where(Notification.order_id == order_id,
                                                               Notification.kind == "confirm_reminder"))
        if already:
            return False
        notify(session, order.user_id, "confirm_reminder", "报告即将自动确认",
               f"订单 {order.number} 的报告将于 {order.auto_confirm_at:%Y-%m-%d %H:%M} 自动确认并结算，如有异议请尽快提出。",
               order.id)
        return True


def close_group_buy(campaign_id: int) -> str | None:
    platform = current().platform
    with platform.transaction() as session:
        return group_buy.close_campaign(session, campaign_id, platform.settings)


def refund_payment(order_id: int) -> int:
    """Send back the cash the ledger says is owed; WeChat Pay treats a repeated refund number as one refund."""
    platform = current().platform
    with platform.transaction() as session:
        order, payment, owed = payments.payment_for_refund(session, order_id)
        if payment is None or owed == 0:
            return 0
        provider = get_provider(platform.settings, payment.provider)
        provider.refund(payment.out_trade_no, payment.amount_cents, payment.refunded_cents + owed, f"R{order.number}")
        payment.refunded_cents += owed
    return owed


def sweep_due_work() -> dict[str, int]:
    """Catch up on anything a scheduled job missed (Redis restarted, a deploy): run by the scheduler every minute."""
    platform = current().platform
    now = utcnow()
    with platform.transaction() as session:
        due = {
            EXPIRE_ORDER_JOB: session.scalars(select(Order.id).where(
                Order.status.in_((OrderStatus.created, OrderStatus.awaiting_payment)), Order.expires_at <= now)).all(),
            AUTO_CONFIRM_JOB: session.scalars(select(Order.id).where(
                Order.status == OrderStatus.report_issued, Order.auto_confirm_at <= now)).all(),
            CLOSE_CAMPAIGN_JOB: session.scalars(select(GroupBuyCampaign.id).where(
                GroupBuyCampaign.status == "open", GroupBuyCampaign.deadline <= now)).all(),
            SEND_NOTIFICATION_JOB: session.scalars(select(Notification.id).where(
                Notification.wechat_status == "pending", Notification.attempts == 0,
                Notification.created_at <= now - timedelta(minutes=5))).all(),
        }
        for job, ids in due.items():
            for item in ids:
                defer(session, job, item)
    return {job.rsplit(".", 1)[1]: len(ids) for job, ids in due.items()}
