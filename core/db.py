"""SQLAlchemy engine, session factory and the declarative base.

Each entry point (request, job, CLI command) opens one session, commits once
and closes it; services only flush.
"""
from __future__ import annotations

import random
import time
from typing import Iterator
from contextlib import contextmanager

from sqlalchemy import MetaData, create_engine, event
from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import DeclarativeBase, ORMExecuteState, Session, sessionmaker

from core.errors import DatabaseBusy

# Stable constraint names so Alembic migrations match on SQLite and PostgreSQL.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


# how long SQLite waits for its write lock per try, and the pauses between tries (with jitter, so
# writers that gave up together do not come back together)
BUSY_TIMEOUT_MS = 5000
LOCK_RETRY_PAUSES = (0.2, 0.6)
BUSY_MESSAGE = "数据库正忙（另一个写入还没结束），请稍后再试；这次什么都没有写入。"


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def _enable_sqlite_foreign_keys(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
    # pysqlite's own transaction handling breaks SAVEPOINT; let SQLAlchemy emit BEGIN
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA foreign_keys=ON")
    # WAL lets the API read while an import writes. It is a property of the file: set once, since
    # asking for it again takes a lock that fails at once (no busy wait) while another process writes.
    if cursor.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":
        cursor.execute("PRAGMA journal_mode=WAL")
    cursor.close()


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False})
        event.listen(engine, "connect", _enable_sqlite_foreign_keys)
        # a writing unit of work asks for IMMEDIATE: it takes the write lock up front, so two
        # racing writers queue on busy_timeout instead of one failing with "database is locked"
        event.listen(engine, "begin", lambda conn: conn.exec_driver_sql(
            "BEGIN IMMEDIATE" if conn.get_execution_options().get("sqlite_immediate") else "BEGIN"))
        return engine
    return create_engine(url, pool_pre_ping=True)


def _refresh_locked_reads(state: ORMExecuteState) -> None:
    """A locked read (SELECT … FOR UPDATE, session.get(with_for_update=…)) always
    refreshes what the session already holds. Without this SQLAlchemy locks the
    row but hands back the object it loaded earlier, unlocked and possibly stale:
    two racers both see a payment still 'pending' and both credit it."""
    if state.is_select and state.statement._for_update_arg is not None:  # noqa: SLF001
        state.update_execution_options(populate_existing=True)


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    factory = sessionmaker(bind=engine, expire_on_commit=False)
    event.listen(factory, "do_orm_execute", _refresh_locked_reads)
    return factory


@contextmanager
def unit_of_work(factory: sessionmaker[Session], write: bool = True) -> Iterator[Session]:
    """One transaction: commit on success, roll back on any error.

    On SQLite a writing unit takes the write lock up front (BEGIN IMMEDIATE), so racing
    writers wait their turn on busy_timeout instead of failing with "database is locked"
    when a read lock cannot be upgraded. Pure reads pass write=False and never wait."""
    session = factory()
    try:
        if write:
            take_write_lock(session)
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def is_busy(exc: BaseException) -> bool:
    """SQLite's "database is locked" / "busy": the lock was not ours in time, nothing was written."""
    return isinstance(exc, OperationalError) and any(word in str(exc.orig) for word in ("locked", "busy"))


def take_write_lock(session: Session) -> None:
    """On SQLite, begin the session's transaction with the write lock (BEGIN IMMEDIATE), trying again
    after a pause when it stays busy; DatabaseBusy when it never frees. Safe to retry: nothing has
    been done yet. PostgreSQL locks rows as it goes, so there is nothing to take up front."""
    if session.get_bind().dialect.name != "sqlite":
        return
    for pause in (*LOCK_RETRY_PAUSES, None):
        try:
            session.connection(execution_options={"sqlite_immediate": True})
            return
        except OperationalError as exc:
            session.rollback()
            if not is_busy(exc):
                raise
            if pause is None:
                raise DatabaseBusy(BUSY_MESSAGE, details={"retry_after": 5}) from None
            time.sleep(pause * random.uniform(1, 1.5))
