"""Rate limits in Redis, shared by every API process: fixed one-minute windows on requests,
and counters of failures (password sign-in) whose window starts at the first failure."""
from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass
from typing import Sequence

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


# Check every counter, then count the attempt in all of them, in one step: parallel guesses cannot all
# slip past a check made before any of them was counted, and an attempt refused by one limit adds
# nothing to the others (an address already stopped cannot go on filling its victims' counters).
_TAKE_ATTEMPT = """
for i, key in ipairs(KEYS) do
  if tonumber(redis.call('GET', key) or '0') >= tonumber(ARGV[2 * i - 1]) then
    return {i, redis.call('PTTL', key)}
  end
end
for i, key in ipairs(KEYS) do
  redis.call('SET', key, 0, 'EX', ARGV[2 * i], 'NX')
  redis.call('INCR', key)
end
return {0, 0}
"""
# give an attempt back; a counter that expired meanwhile is not brought back below zero without expiry
_GIVE_BACK = """
for _, key in ipairs(KEYS) do
  if tonumber(redis.call('GET', key) or '0') > 0 then redis.call('DECR', key) end
end
return 0
"""


@dataclass(frozen=True)
class FailureLimit:
    """At most `limit` failures of `who` in `scope` within `window_seconds` of the first one
    (0: no limit); `message` (Chinese) is said when over it and may use {minutes}."""

    scope: str
    who: str
    limit: int
    window_seconds: int
    message: str

    @property
    def key(self) -> str:
        return f"failures:{self.scope}:{self.who}"


def take_attempt(conn: redis.Redis, limits: Sequence[FailureLimit]) -> None:
    """Count an attempt as a failure before it is judged (give_back undoes that when it succeeds);
    if a limit is already full, raise RateLimited and count nothing. Even the right password is
    refused until the window ends, else guessing would go on behind the lock."""
    active = [limit for limit in limits if limit.limit > 0]
    if not active:
        return
    args: list[int] = []
    for limit in active:
        args += [limit.limit, limit.window_seconds]
    try:
        full, ttl_ms = conn.eval(_TAKE_ATTEMPT, len(active), *(limit.key for limit in active), *args)
    except redis.RedisError as exc:
        log.warning("sign-in failures not checked: %s", exc)
        return
    if not full:
        return
    limit = active[int(full) - 1]
    retry_after = max(1, math.ceil(int(ttl_ms) / 1000)) if int(ttl_ms) > 0 else limit.window_seconds
    raise RateLimited(
        limit.message.format(minutes=math.ceil(retry_after / 60)),
        code="too_many_failures",
        details={"limit": limit.limit, "window_seconds": limit.window_seconds, "retry_after": retry_after},
    )


def give_back(conn: redis.Redis, limits: Sequence[FailureLimit]) -> None:
    """Undo take_attempt for an attempt that was not a failure (it succeeded, or we failed, not the user)."""
    active = [limit for limit in limits if limit.limit > 0]
    if not active:
        return
    try:
        conn.eval(_GIVE_BACK, len(active), *(limit.key for limit in active))
    except redis.RedisError as exc:
        log.warning("sign-in attempt not given back: %s", exc)


def forget_failures(conn: redis.Redis, limit: FailureLimit) -> None:
    """Clear a counter (an account after its owner signed in)."""
    try:
        conn.delete(limit.key)
    except redis.RedisError as exc:
        log.warning("sign-in failures not cleared: %s", exc)
