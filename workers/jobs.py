"""RQ jobs. They take ids, are idempotent (each re-reads the row and does nothing
if the work is done), and let failures reach the queue: the job outbox runs them
again with backoff (JOB_RETRY_INTERVALS) and RQ's registry keeps each failure."""
from __future__ import annotations

import logging
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import delete, select

from core.errors import DependencyUnavailable
from core.models import GroupBuyCampaign, IdempotencyKey, Notification, Order, OrderStatus, User
from core.models._types import utcnow
from core.queue import AUTO_CONFIRM_JOB, CLOSE_CAMPAIGN_JOB, EXPIRE_ORDER_JOB, defer
from core.services.orders import group_buy
from core.services.orders import lifecycle as orders
from core.services.people import staff_alerts, staff_deadlines
from core.services.people.notifications import notify, shown_time
from search_index.builder import sync_changes
from workers.outbox import current_attempt, purge_done
from workers.report_jobs import schedule_idle_report
from workers.runtime import current

log = logging.getLogger(__name__)

SWEEP_GRACE = timedelta(minutes=5)
# on the default queue: core.queue names the jobs services defer, and only this module defers this one
SEND_STAFF_EMAIL_JOB = "workers.jobs.send_staff_email"


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


def send_notification(notification_id: int) -> str:
    """Push an inbox notification to WeChat: a template message of the official account to staff
    who bound their WeChat, else a mini-program subscribe message. Without a WeChat account to
    reach it stays in the inbox ('skipped'); after the last failed try it is marked 'failed' and
    the job fails too, so the queue's registry shows it. Once 'sent' it is never sent again."""
    from core.wechat_client import send_subscribe_message, send_template_message

    platform = current().platform
    settings = platform.settings
    with platform.transaction() as session:
        note = session.get(Notification, notification_id, with_for_update=True)
        if note is None or note.wechat_status in ("sent", "skipped", "failed"):
            return note.wechat_status if note else "missing"
        user = session.get(User, note.user_id)
        if user is not None and note.attempts == 0 and staff_alerts.email_for(session, note, user, settings):
            # the e-mail copy is its own job: a WeChat retry must not mail it again
            defer(session, SEND_STAFF_EMAIL_JOB, note.id)
        template = staff_alerts.template_message(session, note, user, settings) if user is not None else None
        openid = (user.wechat_openid or None) if user is not None else None
        if openid is not None and (openid.startswith("demo-") or not settings.wechat.get("WECHAT_SUBSCRIBE_TEMPLATE_ID")):
            openid = None  # no mini-program subscribe message can reach them either
        if template is None and openid is None:
            note.wechat_status = "skipped"
            return "skipped"
        title, body = note.title, note.body
    try:
        if template is not None:
            send_template_message(settings, platform.redis, template.openid, template.template_id, template.data,
                                  template.url)
        else:
            send_subscribe_message(settings, platform.redis, openid or "", title, body)
        outcome, error = "sent", None
    except DependencyUnavailable as exc:
        # the first try and one per configured retry interval, then it stays in the inbox as failed
        last_try = current_attempt() > len(settings.job_retry_intervals)
        outcome, error = ("failed" if last_try else "pending"), exc.message
    with platform.transaction() as session:
        note = session.get(Notification, notification_id, with_for_update=True)
        assert note is not None
        note.attempts += 1
        note.wechat_status, note.last_error = outcome, error
    if error is not None:
        raise DependencyUnavailable(f"通知 {notification_id} 未能推送到微信：{error}")
    return outcome


def send_staff_email(notification_id: int) -> str:
    """The e-mail copy of a staff notification (SMTP_* settings). A marker in Redis, written once the
    relay accepted it, keeps a second run of this job from mailing it again."""
    from core.mailer import send_email

    platform = current().platform
    marker = f"notification:emailed:{notification_id}"
    if platform.redis.exists(marker):
        return "already sent"
    with platform.transaction(write=False) as session:
        note = session.get(Notification, notification_id)
        user = session.get(User, note.user_id) if note else None
        email = staff_alerts.email_for(session, note, user, platform.settings) if note and user else None
    if email is None or platform.settings.smtp is None:
        return "no e-mail"
    send_email(platform.settings.smtp, email.to, email.subject, email.body)
    platform.redis.set(marker, "1", ex=30 * 24 * 3600)
    return "sent"


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
               f"订单 {order.number} 的报告将于 {shown_time(order.auto_confirm_at, platform.settings.orders.timezone)} "
               "自动确认并结算，如有异议请尽快提出。",
               order.id)
        return True


def close_group_buy(campaign_id: int) -> str | None:
    platform = current().platform
    with platform.transaction() as session:
        return group_buy.close_campaign(session, campaign_id, platform.settings)


def sweep_due_work() -> dict[str, int]:
    """A safety net once a minute: orders whose deadline passed without their job having run
    (rows from before the outbox, a clock jump), the housekeeping of old rows, once an hour the
    staff alerts (samples due tomorrow, reports overdue), and the bi-monthly idle report when due."""
    platform = current().platform
    now = utcnow()
    late = now - SWEEP_GRACE  # a deadline's own job runs first; the sweep only catches what it missed
    alert_hour = _claim_alert_hour(now)
    try:
        with platform.transaction() as session:
            due = {
                EXPIRE_ORDER_JOB: session.scalars(select(Order.id).where(
                    Order.status.in_((OrderStatus.created, OrderStatus.awaiting_payment)), Order.expires_at <= late)).all(),
                AUTO_CONFIRM_JOB: session.scalars(select(Order.id).where(
                    Order.status == OrderStatus.report_issued, Order.auto_confirm_at <= late)).all(),
                CLOSE_CAMPAIGN_JOB: session.scalars(select(GroupBuyCampaign.id).where(
                    GroupBuyCampaign.status == "open", GroupBuyCampaign.deadline <= late)).all(),
            }
            for job, ids in due.items():
                for item in ids:
                    defer(session, job, item)
            # Idempotency-Key answers are kept 24 hours
            keys = session.execute(delete(IdempotencyKey).where(IdempotencyKey.created_at < now - timedelta(hours=24)))
            alerts = staff_deadlines.alert_deadlines(session, platform.settings, now) if alert_hour else {}
            reports = schedule_idle_report(session, platform.settings, now)
    except BaseException:
        if alert_hour:
            platform.redis.delete(alert_hour)  # nothing was written: the next sweep looks again
        raise
    counts = {job.rsplit(".", 1)[1]: len(ids) for job, ids in due.items()}
    counts.update(alerts)
    counts["idle_reports_scheduled"] = reports
    counts["idempotency_keys_dropped"] = keys.rowcount
    counts["jobs_dropped"] = purge_done(platform)
    return counts


def _claim_alert_hour(now: datetime) -> str | None:
    """The staff alerts are a daily check (from STAFF_ALERT_HOUR local time), looked at again each
    hour for what became due since; each order is notified once however many passes there are.
    Returns the claimed hour's key, or None if another sweep has had this hour."""
    platform = current().platform
    key = "staff-alerts:" + now.astimezone(ZoneInfo(platform.settings.orders.timezone)).strftime("%Y%m%d%H")
    return key if platform.redis.set(key, "1", nx=True, ex=2 * 3600) else None
