"""未满足需求: what people asked for that nothing on the platform met, grouped by meaning with the search
engine's own sentence encoder, so the staff see needs rather than a list of wordings. From a group:
add a synonym (the group's words prefilled) or mark the need out of scope."""
from __future__ import annotations

import logging
from typing import Any

import redis
from flask import current_app, flash, g, redirect, render_template, request, url_for

from core.errors import AppError
from core.services.catalog.unmet_groups import (
    UnmetGroup, group_queries, hidden_queries, mark_out_of_scope, restore_in_scope, unmet_queries,
)
from search_index.engine import SearchEngine
from search_index.text import normalise
from search_index.text import words as text_words
from web.console.blueprint import console_bp
from web.console.form_once import once
from web.session import ADMIN_ROLES, platform, requires

log = logging.getLogger(__name__)


def _words(text: str) -> list[str]:
    return text_words(normalise(text))


@console_bp.get("/unmet")
@requires(*ADMIN_ROLES)
def unmet():  # type: ignore[no-untyped-def]
    with platform().transaction(write=False) as session:
        queries = unmet_queries(session)
    warning = None
    try:
        hidden = hidden_queries(platform().redis)
    except redis.RedisError as exc:
        log.warning("out-of-scope needs not read: %s", exc)
        hidden, warning = {}, "暂时读不到“不在服务范围”的标记，列表里可能有已隐藏的需求。"
    engine: SearchEngine = current_app.extensions["search"]
    try:
        groups = group_queries(queries, engine.encoder.encode, _words, list(hidden))
    except AppError as exc:  # the model cannot load: each wording on its own rather than nothing
        warning = f"无法按语义分组（{exc.message}），以下按原话逐条列出。"
        groups = [UnmetGroup(q, [q], _words(q.text)[:4]) for q in queries if q.text not in hidden]
    return render_template("console/unmet.html", groups=groups, hidden=hidden, warning=warning,
                           asked=sum(q.count for q in queries))


@console_bp.post("/unmet/out-of-scope")
@requires(*ADMIN_ROLES)
def unmet_out_of_scope():  # type: ignore[no-untyped-def]
    texts = [t[:500] for t in request.form.getlist("text")][:200]

    def action() -> Any:
        try:
            hidden = mark_out_of_scope(platform().redis, g.user, texts)
        except AppError as exc:
            flash(exc.message, "error")
        except redis.RedisError as exc:
            log.warning("out-of-scope mark not stored: %s", exc)
            flash("暂时无法保存标记，请稍后再试。", "error")
        else:
            flash(f"已将 {hidden} 种说法标记为不在服务范围，相似的需求不再列出。" if hidden else "没有选中任何需求。",
                  "success" if hidden else "error")
        return redirect(url_for("console.unmet"), 303)
    return once(action)


@console_bp.post("/unmet/restore")
@requires(*ADMIN_ROLES)
def unmet_restore():  # type: ignore[no-untyped-def]
    text = (request.form.get("text") or "")[:500]
    try:
        restored = restore_in_scope(platform().redis, g.user, text)
    except redis.RedisError as exc:
        log.warning("out-of-scope mark not removed: %s", exc)
        flash("暂时无法恢复，请稍后再试。", "error")
    else:
        flash(f"已恢复「{text}」，它和相似的需求会重新列出。" if restored else "这条需求已经不在隐藏列表里。", "success")
    return redirect(url_for("console.unmet"), 303)
