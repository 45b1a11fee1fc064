"""Fixed-window rate limits in Redis, shared by every API process."""
from __future__ import annotations

import logging
import time

import redis

from core.errors import RateLimited

log = logging.getLogger(__name__)
WINDOW_SECONDS = 60


def enforce(conn: redis.Redis, scope: str, who: str, per_minute: int, now: float | None = None) -> None:
    """Count one request of `who` in `scope`; over the limit raises RateLimited.
    If Redis is down the request goes through: a limit must not take the service down."""
    if per_minute <= 0:
        return
    now = time.time() if now is None else now
    window = int(now // WINDOW_SECONDS)
    key = f"ratelimit:{scope}:{who}:{window}"
    try:
        pipe = conn.pipeline()
        pipe.incr(key)
        pipe.expire(key, WINDOW_SECONDS * 2)
        count = pipe.execute()[0]
    except redis.RedisError as exc:
        log.warning("rate limit not checked: %s", exc)
        return
    if count > per_minute:
        retry_after = int((window + 1) * WINDOW_SECONDS - now) + 1
        raise RateLimited(
            f"请求过于频繁：每分钟最多 {per_minute} 次，请 {retry_after} 秒后再试。",
            details={"limit_per_minute": per_minute, "retry_after": retry_after},
        )
