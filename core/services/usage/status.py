"""Live instrument status as kept in Redis (written by the IoT ingestion)."""
from __future__ import annotations

import logging
from typing import Sequence

import redis

log = logging.getLogger(__name__)

STATUS_KEY = "instrument:status"  # hash: instrument code -> idle|in_use|off|offline
KNOWN = frozenset({"idle", "in_use", "off", "offline"})


def live_statuses(conn: redis.Redis, codes: Sequence[str]) -> dict[str, str]:
    """Status per code; 'unknown' where no sensor reported or Redis is unreachable."""
    if not codes:
        return {}
    try:
        values = conn.hmget(STATUS_KEY, list(codes))
    except redis.RedisError as exc:
        log.warning("live instrument status unavailable: %s", exc)
        values = [None] * len(codes)
    out = {}
    for code, raw in zip(codes, values):
        value = raw.decode() if isinstance(raw, bytes) else raw
        out[code] = value if value in KNOWN else "unknown"
    return out
