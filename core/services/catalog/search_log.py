"""Hot searches and each user's search history, kept in Redis."""
from __future__ import annotations

import logging
from datetime import date, timedelta

import redis

log = logging.getLogger(__name__)

HISTORY_LENGTH = 50
HISTORY_SECONDS = 90 * 24 * 3600
HOT_DAYS = 7
DAILY_DAYS_KEPT = 40  # per-day totals for the console's 30-day chart


def _daily_key(day: date) -> str:
    return f"search:daily:{day.isoformat()}"  # hash: total, empty (searches that found nothing)


def _hot_key(day: date) -> str:
    return f"search:hot:{day.isoformat()}"


def record_search(conn: redis.Redis, query: str, user_id: int | None, had_results: bool, today: date | None = None) -> None:
    """Count a search; a failure here never fails the search itself."""
    text = " ".join(query.split())[:100]
    day = today or date.today()
    try:
        pipe = conn.pipeline()
        pipe.hincrby(_daily_key(day), "total", 1)
        if not had_results:
            pipe.hincrby(_daily_key(day), "empty", 1)
        pipe.expire(_daily_key(day), DAILY_DAYS_KEPT * 24 * 3600)
        if had_results:  # only needs the platform meets make the hot list
            pipe.zincrby(_hot_key(day), 1, text)
            pipe.expire(_hot_key(day), (HOT_DAYS + 1) * 24 * 3600)
        if user_id is not None:
            key = f"search:history:{user_id}"
            pipe.lrem(key, 0, text)
            pipe.lpush(key, text)
            pipe.ltrim(key, 0, HISTORY_LENGTH - 1)
            pipe.expire(key, HISTORY_SECONDS)
        pipe.execute()
    except redis.RedisError as exc:
        log.warning("search not recorded: %s", exc)


def hot_searches(conn: redis.Redis, limit: int = 10, today: date | None = None) -> list[tuple[str, int]]:
    day = today or date.today()
    totals: dict[str, float] = {}
    for offset in range(HOT_DAYS):
        for member, score in conn.zrange(_hot_key(day - timedelta(days=offset)), 0, -1, withscores=True):
            text = member.decode() if isinstance(member, bytes) else member
            totals[text] = totals.get(text, 0) + score
    ranked = sorted(totals.items(), key=lambda kv: (-kv[1], kv[0]))[:limit]
    return [(q, int(n)) for q, n in ranked]


def search_history(conn: redis.Redis, user_id: int) -> list[str]:
    return [q.decode() if isinstance(q, bytes) else q for q in conn.lrange(f"search:history:{user_id}", 0, -1)]


def searches_per_day(conn: redis.Redis, days: int = 30, today: date | None = None) -> list[tuple[date, int, int]]:
    """(day, searches, of which found nothing) for the last `days` days, oldest first, zeros included."""
    last = today or date.today()
    span = [last - timedelta(days=offset) for offset in range(days - 1, -1, -1)]
    pipe = conn.pipeline()
    for day in span:
        pipe.hmget(_daily_key(day), ["total", "empty"])
    return [(day, int(total or 0), int(empty or 0)) for day, (total, empty) in zip(span, pipe.execute())]
