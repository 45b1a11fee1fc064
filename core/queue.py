"""Enqueueing jobs by name, so callers never import the workers package.

Services never enqueue directly: they `defer()` a job on their session, and the
entry point's transaction (`Platform.transaction`) enqueues it only after the
commit, so a job can never run before the rows it reads exist.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import redis
from rq import Queue, Retry
from sqlalchemy.orm import Session

from core.config import DEFAULT_JOB_RETRY_INTERVALS

DEFAULT_QUEUE = "default"
INDEX_SYNC_JOB = "workers.jobs.sync_search_index"
SEND_WECHAT_TEXT_JOB = "workers.jobs.send_wechat_text"
SEND_NOTIFICATION_JOB = "workers.jobs.send_notification"
EXPIRE_ORDER_JOB = "workers.jobs.expire_unpaid_order"
AUTO_CONFIRM_JOB = "workers.jobs.auto_confirm_order"
REMIND_CONFIRM_JOB = "workers.jobs.remind_before_auto_confirm"
CLOSE_CAMPAIGN_JOB = "workers.jobs.close_group_buy"
SWEEP_JOB = "workers.jobs.sweep_due_work"



@dataclass
class DeferredJob:
    name: str
    args: tuple[Any, ...]
    at: datetime | None = None
    kwargs: dict[str, Any] = field(default_factory=dict)


def defer(session: Session, name: str, *args: Any, at: datetime | None = None) -> None:
    """Enqueue `name(*args)` once `session` commits (at `at`, if given)."""
    session.info.setdefault("deferred_jobs", []).append(DeferredJob(name, args, at))


def take_deferred(session: Session) -> list[DeferredJob]:
    return session.info.pop("deferred_jobs", [])


def enqueue(conn: redis.Redis, job: str, *args: Any, queue: str = DEFAULT_QUEUE, at: datetime | None = None,
            retry_intervals: tuple[int, ...] = DEFAULT_JOB_RETRY_INTERVALS, **kwargs: Any) -> str:
    q = Queue(queue, connection=conn)
    retry = Retry(max=len(retry_intervals), interval=list(retry_intervals)) if retry_intervals else None
    if at is not None:
        return q.enqueue_at(at, job, *args, retry=retry, **kwargs).id
    return q.enqueue(job, *args, retry=retry, **kwargs).id


def enqueue_index_sync(conn: redis.Redis) -> str:
    """Ask a worker to apply pending listing changes to the search index.
    Extra requests are harmless: a sync with an empty outbox does nothing."""
    return enqueue(conn, INDEX_SYNC_JOB)


def enqueue_wechat_text(conn: redis.Redis, openid: str, text: str) -> str:
    # WeChat rejects customer-service messages after 48 h; failures go to RQ's failed registry
    return enqueue(conn, SEND_WECHAT_TEXT_JOB, openid, text)
