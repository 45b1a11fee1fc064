"""搜索索引: the live index version and its counts, the changes waiting for it (the index outbox), and
a full rebuild started here and run by a worker (the job outbox), watched as it goes."""
from __future__ import annotations

import logging
from datetime import datetime, timezone
from typing import Any

import redis
from flask import current_app, flash, g, redirect, render_template, request, url_for

from core.errors import AppError
from core.queue import enqueue_index_sync
from core.services.catalog.reindex import index_backlog, reindex_status, start_reindex
from search_index.engine import SearchEngine
from search_index.segment import IndexCorrupt
from search_index.store import IndexMissing, Manifest
from web.console.blueprint import console_bp
from web.console.form_once import once
from web.session import ADMIN_ROLES, platform, requires

log = logging.getLogger(__name__)


def _manifest() -> tuple[Manifest | None, str | None]:
    engine: SearchEngine = current_app.extensions["search"]
    try:
        return engine.store.current_manifest(), None
    except IndexMissing:
        return None, "还没有搜索索引：点“重建索引”建立第一个版本。"
    except IndexCorrupt as exc:
        return None, f"当前索引版本无法读取（{exc}），请重建索引。"


def _summary() -> dict[str, Any]:
    manifest, problem = _manifest()
    built = datetime.fromtimestamp(manifest.created_at, timezone.utc) if manifest else None
    removed = sum(len(v) for v in manifest.tombstones.values()) if manifest else 0
    return {"manifest": manifest, "problem": problem, "built_at": built, "removed": removed}


def _status() -> Any:
    with platform().transaction(write=False) as session:
        return reindex_status(session, platform().redis)


@console_bp.get("/index")
@requires(*ADMIN_ROLES)
def index_page():  # type: ignore[no-untyped-def]
    with platform().transaction(write=False) as session:
        backlog = index_backlog(session)
        status = reindex_status(session, platform().redis)
    return render_template("console/index.html", backlog=backlog, status=status, **_summary())


@console_bp.get("/index/progress")
@requires(*ADMIN_ROLES)
def index_progress():  # type: ignore[no-untyped-def]
    """htmx, polled every second while a rebuild runs; once it is over, the summary is swapped too."""
    status = _status()
    over = not status.running
    return render_template("console/index_progress.html", status=status, refresh_summary=over and bool(
        request.headers.get("HX-Request")), **(_summary() if over else {}))


@console_bp.post("/index/reindex")
@requires(*ADMIN_ROLES)
def start_reindex_view():  # type: ignore[no-untyped-def]
    def action() -> Any:
        try:
            with platform().transaction() as session:
                start_reindex(session, platform().redis, g.user)
        except AppError as exc:
            flash(exc.message, "error")
        else:
            flash("已开始重建搜索索引：后台任务完成前，搜索继续使用当前版本。", "success")
        return redirect(url_for("console.index_page"), 303)
    return once(action)


@console_bp.post("/index/sync")
@requires(*ADMIN_ROLES)
def sync_index_view():  # type: ignore[no-untyped-def]
    try:
        enqueue_index_sync(platform().redis)
    except redis.RedisError as exc:
        log.warning("index sync not queued: %s", exc)
        flash("后台任务队列暂不可用，请稍后再试。", "error")
    else:
        flash("已请后台任务把待更新的服务项目同步到索引。", "success")
    return redirect(url_for("console.index_page"), 303)
