"""Hot searches and each user's search history, kept in Redis."""
from __future__ import annotations

import logging
from datetime import date, timedelta

import redis

log = logging.getLogger(__name__)

HISTORY_LENGTH = 50
HISTORY_SECONDS = 90 * 24 * 3600
HOT_DAYS = 7


def _hot_key(day: date) -> str:
    return f"search:hot:{day.isoformat()}"


def record_search(conn: redis.Redis, query: str, user_id: int | None, had_results: bool, today: date | None = None) -> None:
    """Count a search; a failure here never fails the search itself."""
    text = " ".join(query.split())[:100]
    day = today or date.today()
    try:
        pipe = conn.pipeline()
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
