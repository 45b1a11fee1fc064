"""Fixtures: a fresh database per app (SQLite, or PostgreSQL when
TEST_DATABASE_URL is set), real Redis (embedded unless REDIS_URL is set)."""
from __future__ import annotations

import os
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator

import pytest
from flask import Flask
from flask.testing import FlaskCliRunner
from sqlalchemy import create_engine, text

from app import create_app
from core.config import load_settings
from core.redis_conn import stop_embedded

DATA = Path(__file__).parent / "data"
ROOT = Path(__file__).parent.parent
MINI_CATALOG = DATA / "mini_catalog.jsonl"
SYNONYMS = ROOT / "data" / "synonyms.jsonl"


def _reset_postgres(url: str) -> None:
    engine = create_engine(load_settings({"DATABASE_URL": url}).database_url)
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()


# the tests run the demo: sandbox payments and demo sign-in (subprocesses inherit it)
os.environ.setdefault("DEMO_MODE", "1")


def build_app(data_dir: Path, **env: str) -> Flask:
    environ = {"DATA_DIR": str(data_dir), "DEMO_MODE": os.environ["DEMO_MODE"]}
    if os.environ.get("TEST_DATABASE_URL"):
        environ["DATABASE_URL"] = os.environ["TEST_DATABASE_URL"]
        _reset_postgres(environ["DATABASE_URL"])
    if os.environ.get("REDIS_URL"):
        # like the database, a shared Redis starts empty for each app: no status, job or
        # retry marker of an earlier test (whose database is gone) can reach this one
        environ["REDIS_URL"] = os.environ["REDIS_URL"]
        import redis

        redis.Redis.from_url(environ["REDIS_URL"]).flushdb()
    environ.update(env)
    app = create_app(load_settings(environ))
    app.config["TESTING"] = True
    result = app.test_cli_runner().invoke(args=["db", "upgrade"])
    assert result.exit_code == 0, result.output
    return app


@contextmanager
def serving(server) -> Iterator[None]:  # type: ignore[no-untyped-def]
    """Run a socketserver-style server (werkzeug's, http.server's) on a thread, on 127.0.0.1."""
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield
    finally:
        server.shutdown()
        thread.join(5)


def cli(app: Flask, *args: str) -> "CliResult":
    runner: FlaskCliRunner = app.test_cli_runner()
    result = runner.invoke(args=list(args))
    return CliResult(result.exit_code, result.stdout, result.stderr, result.exception)


class CliResult:
    def __init__(self, exit_code: int, stdout: str, stderr: str, exception: BaseException | None):
        self.exit_code, self.stdout, self.stderr, self.exception = exit_code, stdout, stderr, exception

    @property
    def output(self) -> str:
        return self.stdout + self.stderr


def stop_app(application: Flask) -> None:
    """Close an app and stop the embedded Redis it used: a test leaves no server behind."""
    application.extensions["platform"].close()
    stop_embedded(application.extensions["platform"].settings)


@pytest.fixture
def app_factory() -> Iterator[Callable[..., Flask]]:
    """build_app for tests that need more than one app; all are closed afterwards."""
    built: list[Flask] = []

    def make(data_dir: Path, **env: str) -> Flask:
        built.append(build_app(data_dir, **env))
        return built[-1]

    yield make
    for application in built:
        stop_app(application)


@pytest.fixture
def app(tmp_path: Path, app_factory: Callable[..., Flask]) -> Flask:
    return app_factory(tmp_path)


@pytest.fixture
def catalog_app(app: Flask) -> Flask:
    """A fresh app with the mini catalog and the synonym dictionary indexed."""
    assert cli(app, "search", "synonyms", "load", str(SYNONYMS)).exit_code == 0
    assert cli(app, "catalog", "import", "--approve", str(MINI_CATALOG)).exit_code == 0
    assert cli(app, "search", "reindex").exit_code == 0
    return app


def build_catalog_app(data_dir: Path, **env: str) -> Flask:
    """An app with the mini catalog imported and indexed (the dictionary comes with the migration)."""
    application = build_app(data_dir, **env)
    assert cli(application, "catalog", "import", "--approve", str(MINI_CATALOG)).exit_code == 0
    assert cli(application, "search", "reindex").exit_code == 0
    return application


@pytest.fixture(scope="module")
def shared_catalog_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Flask]:
    """Like catalog_app but built once per module, for tests that only read."""
    application = build_catalog_app(tmp_path_factory.mktemp("shared"))
    yield application
    stop_app(application)


@pytest.fixture
def write_lines(tmp_path: Path) -> Callable[..., Path]:
    counter = iter(range(10_000))

    def write(*lines: str) -> Path:
        path = tmp_path / f"input-{next(counter)}.jsonl"
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        return path

    return write


@pytest.fixture
def fake_wechat() -> Iterator[str]:
    """The root URL of a local stand-in for WeChat's HTTP API (see tests/fake_wechat.py)."""
    from http.server import ThreadingHTTPServer

    from tests.fake_wechat import FakeWeChat

    FakeWeChat.calls = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeWeChat)
    with serving(server):
        yield f"http://127.0.0.1:{server.server_port}/"


@pytest.fixture
def fake_wechatpay() -> Iterator[str]:
    """The root URL of a local stand-in for WeChat Pay's v2 API (see tests/fake_wechatpay.py)."""
    from http.server import ThreadingHTTPServer

    from tests.fake_wechatpay import FakeWeChatPay

    FakeWeChatPay.reset()
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeWeChatPay)
    with serving(server):
        yield f"http://127.0.0.1:{server.server_port}/"
