"""A busy SQLite (another process holds the write lock) is "try again" with nothing written: a Chinese
line and exit 1 from the command line, a 503 with Retry-After from the API, never a traceback; a lock
that frees while a writer waits is simply waited for."""
from __future__ import annotations

import sqlite3
import threading
from pathlib import Path
from typing import Callable

import pytest
from flask import Flask
from sqlalchemy import func, select

import core.db
from core.models import Institution
from tests.conftest import MINI_CATALOG, cli


@pytest.fixture
def sqlite_app(app_factory: Callable[..., Flask], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Flask:
    monkeypatch.setattr(core.db, "BUSY_TIMEOUT_MS", 100)
    monkeypatch.setattr(core.db, "LOCK_RETRY_PAUSES", (0.05, 0.05))
    application = app_factory(tmp_path)
    if application.extensions["platform"].engine.dialect.name != "sqlite":
        pytest.skip("the write lock taken up front is SQLite's")
    with application.extensions["platform"].engine.connect():
        pass  # the platform's first connection turns the file to WAL, as the running server has
    return application


def _held_lock(application: Flask) -> sqlite3.Connection:
    path = application.extensions["platform"].engine.url.database
    other = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    other.execute("BEGIN IMMEDIATE")
    return other


def _institutions(application: Flask) -> int:
    with application.extensions["platform"].session_factory() as session:
        return session.scalar(select(func.count()).select_from(Institution)) or 0


def test_an_import_beside_a_busy_writer_says_so_and_writes_nothing(sqlite_app: Flask) -> None:
    other = _held_lock(sqlite_app)
    try:
        result = cli(sqlite_app, "catalog", "import", "--approve", str(MINI_CATALOG))
    finally:
        other.execute("ROLLBACK")
        other.close()
    assert result.exit_code == 1
    assert "数据库正忙" in result.stderr and "Traceback" not in result.output
    assert _institutions(sqlite_app) == 0


def test_an_api_write_beside_a_busy_writer_is_a_503_to_retry(sqlite_app: Flask) -> None:
    other = _held_lock(sqlite_app)
    try:
        response = sqlite_app.test_client().post("/api/v1/auth/demo-login", json={"role": "enterprise"})
    finally:
        other.execute("ROLLBACK")
        other.close()
    assert response.status_code == 503
    assert response.get_json()["error"]["code"] == "database_busy"
    assert "数据库正忙" in response.get_json()["error"]["message"]
    assert response.headers["Retry-After"] == "5"
    # once the other writer is done, the same request goes through
    assert sqlite_app.test_client().post("/api/v1/auth/demo-login", json={"role": "enterprise"}).status_code == 200


def test_a_lock_that_frees_while_waiting_is_waited_for(sqlite_app: Flask) -> None:
    other = _held_lock(sqlite_app)
    release = threading.Timer(0.15, lambda: (other.execute("ROLLBACK"), other.close()))
    release.start()
    try:
        result = cli(sqlite_app, "catalog", "import", "--approve", str(MINI_CATALOG))
    finally:
        release.join()
    assert result.exit_code == 0, result.output
    assert _institutions(sqlite_app) > 0
