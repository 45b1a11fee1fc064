"""After a commit that marked listings for the search index: ask a worker to sync now."""
from __future__ import annotations

import logging

import redis

from core.queue import enqueue_index_sync
from web.session import platform

log = logging.getLogger(__name__)


def request_index_sync() -> None:
    """Best effort after the commit: the outbox row is already written, so a missed nudge only waits
    for the next sync."""
    try:
        enqueue_index_sync(platform().redis)
    except redis.RedisError as exc:
        log.warning("index sync not requested; the outbox keeps the change: %s", exc)
