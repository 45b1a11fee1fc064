"""Jobs by name, so callers never import the workers package.

Services never enqueue directly: they `defer()` a job, which writes a row of the
job outbox (core.models.Job) in the caller's transaction. After the commit the
entry point's transaction (`Platform.transaction`) hands the rows that are due
to Redis; a relay in every worker hands out whatever is due or was lost (Redis
down, a worker killed) until the job reports done. A job therefore runs at
least once and never before the rows it reads exist; every job is idempotent.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any

import redis
from rq import Queue, Retry
from sqlalchemy.orm import Session

from core.config import DEFAULT_JOB_RETRY_INTERVALS
from core.models import Job
from core.models._types import utcnow
from core.models.job import JOB_ENQUEUED, JOB_PENDING

# queues in the order workers take them: money never waits behind a backlog of messages
MONEY_QUEUE, DEADLINES_QUEUE, NOTIFICATIONS_QUEUE, DEFAULT_QUEUE = "money", "deadlines", "notifications", "default"
QUEUES_BY_PRIORITY = (MONEY_QUEUE, DEADLINES_QUEUE, NOTIFICATIONS_QUEUE, DEFAULT_QUEUE)

INDEX_SYNC_JOB = "workers.jobs.sync_search_index"
SEND_WECHAT_TEXT_JOB = "workers.jobs.send_wechat_text"
SEND_NOTIFICATION_JOB = "workers.jobs.send_notification"
EXPIRE_ORDER_JOB = "workers.jobs.expire_unpaid_order"
AUTO_CONFIRM_JOB = "workers.jobs.auto_confirm_order"
REMIND_CONFIRM_JOB = "workers.jobs.remind_before_auto_confirm"
CLOSE_CAMPAIGN_JOB = "workers.jobs.close_group_buy"
SEND_REFUND_JOB = "workers.money_jobs.send_refund"
CHECK_REFUND_JOB = "workers.money_jobs.check_refund"
CHECK_PAYMENT_JOB = "workers.money_jobs.check_payment"
SEND_PROFIT_SHARE_JOB = "workers.money_jobs.send_profit_share"
SWEEP_JOB = "workers.jobs.sweep_due_work"
# what a worker runs for an outbox row: it looks the row up and runs the named job
RUN_JOB = "workers.outbox.run_job"

_QUEUE_OF = {
    SEND_REFUND_JOB: MONEY_QUEUE, CHECK_REFUND_JOB: MONEY_QUEUE, CHECK_PAYMENT_JOB: MONEY_QUEUE,
    SEND_PROFIT_SHARE_JOB: MONEY_QUEUE,
    EXPIRE_ORDER_JOB: DEADLINES_QUEUE, AUTO_CONFIRM_JOB: DEADLINES_QUEUE, REMIND_CONFIRM_JOB: DEADLINES_QUEUE,
    CLOSE_CAMPAIGN_JOB: DEADLINES_QUEUE, SWEEP_JOB: DEADLINES_QUEUE,
    SEND_NOTIFICATION_JOB: NOTIFICATIONS_QUEUE, SEND_WECHAT_TEXT_JOB: NOTIFICATIONS_QUEUE,
}


def queue_of(name: str) -> str:
    return _QUEUE_OF.get(name, DEFAULT_QUEUE)


def defer(session: Session, name: str, *args: Any, at: datetime | None = None) -> Job:
    """Run `name(*args)` once `session` commits (not before `at`, if given), until it is done."""
    now = utcnow()
    due = at if at is not None and at > now else now
    # due now: marked as handed out already, so the relay leaves it to the fast path after commit
    job = Job(name=name, args=list(args), queue=queue_of(name), due_at=due,
              status=JOB_ENQUEUED if due <= now else JOB_PENDING, handed_at=now if due <= now else None)
    session.add(job)
    session.flush()
    if job.status == JOB_ENQUEUED:
        session.info.setdefault("jobs_to_hand_out", []).append((job.id, job.queue, hand_out_marker(job)))
    return job


def take_deferred(session: Session) -> list[tuple[int, str, str]]:
    """The (job id, queue, marker) of jobs this session made due now; hand them out after the commit."""
    return session.info.pop("jobs_to_hand_out", [])


def hand_out_marker(job: Job) -> str:
    """A fresh queue id per hand-out, derivable from the row, so the relay can look its entry up."""
    stamp = int(job.handed_at.timestamp() * 1000) if job.handed_at else 0
    return f"{job.attempts}-{stamp}"


def redis_job_id(job_id: int, marker: str) -> str:
    return f"job-{job_id}-{marker}"


def hand_out(conn: redis.Redis, job_id: int, queue: str, marker: str, timeout: int = 40) -> str:
    """Put an outbox row's id on its queue. A failure leaves the row for the relay."""
    return Queue(queue, connection=conn).enqueue(
        RUN_JOB, job_id, job_id=redis_job_id(job_id, marker), job_timeout=timeout, result_ttl=300,
        failure_ttl=7 * 24 * 3600).id


def enqueue(conn: redis.Redis, job: str, *args: Any, queue: str = DEFAULT_QUEUE,
            retry_intervals: tuple[int, ...] = DEFAULT_JOB_RETRY_INTERVALS, **kwargs: Any) -> str:
    """Best-effort work with nothing in the database behind it (a bot answer, an index nudge);
    RQ's own scheduler retries it. Work that must happen goes through `defer` instead."""
    q = Queue(queue, connection=conn)
    retry = Retry(max=len(retry_intervals), interval=list(retry_intervals)) if retry_intervals else None
    return q.enqueue(job, *args, retry=retry, **kwargs).id


def enqueue_index_sync(conn: redis.Redis) -> str:
    """Ask a worker to apply pending listing changes to the search index.
    Extra requests are harmless: a sync with an empty outbox does nothing."""
    return enqueue(conn, INDEX_SYNC_JOB)


def enqueue_wechat_text(conn: redis.Redis, openid: str, text: str) -> str:
    # WeChat rejects customer-service messages after 48 h; failures go to RQ's failed registry
    return enqueue(conn, SEND_WECHAT_TEXT_JOB, openid, text, queue=NOTIFICATIONS_QUEUE)
