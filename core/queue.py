"""Enqueueing jobs by name, so callers never import the workers package.

Call only after the transaction that wrote what the job reads has committed.
"""
from __future__ import annotations

from typing import Any

import redis
from rq import Queue

DEFAULT_QUEUE = "default"
INDEX_SYNC_JOB = "workers.jobs.sync_search_index"
SEND_WECHAT_TEXT_JOB = "workers.jobs.send_wechat_text"


def enqueue(conn: redis.Redis, job: str, *args: Any, queue: str = DEFAULT_QUEUE, **kwargs: Any) -> str:
    return Queue(queue, connection=conn).enqueue(job, *args, **kwargs).id


def enqueue_index_sync(conn: redis.Redis) -> str:
    """Ask a worker to apply pending listing changes to the search index.
    Extra requests are harmless: a sync with an empty outbox does nothing."""
    return enqueue(conn, INDEX_SYNC_JOB)


def enqueue_wechat_text(conn: redis.Redis, openid: str, text: str) -> str:
    # WeChat rejects customer-service messages after 48 h; failures go to RQ's failed registry
    return enqueue(conn, SEND_WECHAT_TEXT_JOB, openid, text)
