"""create_app(): composes the blueprints of api/, bot/ and web/ and the CLI groups."""
from __future__ import annotations

import logging

import click
from flask import Flask
from flask.cli import with_appcontext
from werkzeug.middleware.proxy_fix import ProxyFix

from api import blueprints as api_blueprints
from api import register_error_handlers, register_idempotency, register_limits
from api.middleware import RecordIdConverter, Utf8QueryString
from bot import blueprints as bot_blueprints
from bot.cli import bot_cli
from bot.dialogue import Dialogue
from core.cli import catalog_cli, db_cli, stop_embedded_command, users_cli
from core.data_cli import data_cli
from core.config import Settings, load_settings
from core.order_cli import orders_cli
from core.db import unit_of_work
from core.platform import Platform
from core.services.orders.ratings import rating_signals
from core.services.catalog.synonyms import all_synonyms
from iot.cli import iot_cli
from iot.demo_history_cli import backfill_demo_command
from search_index.builder import sync_changes
from search_index.cli import search_cli
from search_index.encoders import load_encoder, pin_threads
from search_index.engine import SearchEngine
from search_index.store import IndexStore
from web import blueprints as web_blueprints
from web import init_web
from workers.cli import worker


def _search_engine(platform: Platform) -> SearchEngine:
    settings = platform.settings
    pin_threads(settings.encoder_threads)

    def synonyms() -> dict[str, list[str]]:
        with unit_of_work(platform.session_factory, write=False) as session:
            return all_synonyms(session)

    def ratings() -> dict[str, tuple[float, int]]:
        with unit_of_work(platform.session_factory, write=False) as session:
            return rating_signals(session)

    return SearchEngine(
        IndexStore(settings.index_dir),
        encoder_factory=lambda: load_encoder(settings.search_model, settings.encoder_threads),
        synonyms_loader=synonyms,
        ratings_loader=ratings,
    )


def _index_sync_hook(platform: Platform, engine: SearchEngine):  # type: ignore[no-untyped-def]
    def sync() -> None:
        # with no index at all, building one is the admin's call; an unreadable one is rebuilt
        if engine.store.current_stamp() is None:
            click.echo("No search index yet: run `flask search reindex` to build it.", err=True)
            return
        with unit_of_work(platform.session_factory) as session:
            report = sync_changes(session, engine.store, engine.encoder)
        if report.version:
            click.echo(f"Search index {report.version} now includes {report.changed} changed listings.", err=True)

    return sync


class _LazyDialogue:
    """The dialogue engine, created on first use: it needs Redis, which must not start at import."""

    def __init__(self, platform: Platform, engine: SearchEngine):
        self._platform, self._engine, self._dialogue = platform, engine, None

    def __getattr__(self, name: str):  # type: ignore[no-untyped-def]
        if self._dialogue is None:
            self._dialogue = Dialogue(self._engine, self._platform.redis, self._platform.session_factory)
        return getattr(self._dialogue, name)


class UnsafeConfiguration(SystemExit):
    """Production is the default: a server that would be unsafe refuses to start and says why
    (a SystemExit: the command line shows the reason, not a traceback)."""


def create_app(settings: Settings | None = None) -> Flask:
    settings = settings or load_settings()
    problems = settings.unsafe_for_production()
    if problems:
        raise UnsafeConfiguration("拒绝启动（生产模式）：" + "；".join(problems)
                                  + "。本机演示请设 DEMO_MODE=1（make demo 会设）。")
    app = Flask(__name__)
    app.url_map.converters["int"] = RecordIdConverter  # before any route is added
    app.config.update(SECRET_KEY=settings.secret_key, JSON_AS_ASCII=False)
    app.json.ensure_ascii = False  # type: ignore[attr-defined]
    app.json.sort_keys = False  # type: ignore[attr-defined]

    platform = Platform(settings)
    engine = _search_engine(platform)
    app.extensions["platform"] = platform
    app.extensions["search"] = engine
    app.extensions["after_catalog_change"] = _index_sync_hook(platform, engine)
    app.extensions["dialogue"] = _LazyDialogue(platform, engine)

    for bp in api_blueprints() + bot_blueprints() + web_blueprints():
        app.register_blueprint(bp)
    init_web(app)
    register_error_handlers(app)
    register_limits(app)
    register_idempotency(app)
    app.wsgi_app = Utf8QueryString(app.wsgi_app)  # type: ignore[method-assign]
    if settings.trusted_proxy_hops:
        # only the hops our own proxies appended are believed; with none, X-Forwarded-For is ignored so a
        # client cannot pick its own rate-limit bucket
        hops = settings.trusted_proxy_hops
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)  # type: ignore[method-assign]

    for group in (db_cli, users_cli, catalog_cli, search_cli, bot_cli, orders_cli, iot_cli):
        app.cli.add_command(group)
    data_cli.add_command(backfill_demo_command)  # in iot/: it replays sensor history through the tracker
    app.cli.add_command(data_cli)
    app.cli.add_command(serve)
    app.cli.add_command(worker)
    app.cli.add_command(stop_embedded_command)
    return app


@click.command("serve")
@with_appcontext
@click.option("--host", default=None, help="Default: HOST (127.0.0.1).")
@click.option("--port", default=None, type=int, help="Default: PORT (8000).")
def serve(host: str | None, port: int | None) -> None:
    """Warm the search model and index, then serve HTTP (threaded)."""
    from flask import current_app
    from werkzeug.serving import run_simple

    from core.errors import AppError

    app = current_app._get_current_object()  # type: ignore[attr-defined]
    settings = app.extensions["platform"].settings
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        app.extensions["search"].warm()
    except AppError as exc:
        click.echo(f"Warning: {exc.message} Search answers 503 until then.", err=True)
    host, port = host or settings.host, port or settings.port
    click.echo(f"Serving on http://{host}:{port}/  (search: http://{host}:{port}/api/v1/search?q=…)")
    run_simple(host, port, app, threaded=True, use_reloader=False)
