"""A console form sent twice (a double click, a retry on a slow network) does its work once.

Each form carries a random `form_key`. The first request with a key claims it in Redis and, if it
ends in a redirect, records where it went; a repeat is sent to the same place with the same
message instead of running again. A form that came back with an error releases its key, so the
corrected form may be sent. Keys live an hour."""
from __future__ import annotations

import json
import re
import time
import uuid
from typing import Any, Callable

import redis
from flask import flash, g, redirect, request, session

from web.console.blueprint import console_bp
from web.session import platform

KEY_SECONDS = 3600
WAIT_SECONDS = 5.0
_KEY_RE = re.compile(r"^[0-9a-f]{32}$")


def new_form_key() -> str:
    return uuid.uuid4().hex


def _last_flash() -> tuple[str, str] | None:
    flashes = session.get("_flashes") or []
    return tuple(flashes[-1]) if flashes else None  # type: ignore[return-value]


def once(action: Callable[[], Any]) -> Any:
    """Run `action` (a view's POST work) unless this form's key was already used."""
    key = request.form.get("form_key", "")
    if not _KEY_RE.match(key):
        return action()  # a form without a key (a script, an old page) is simply run
    conn = platform().redis
    slot = f"console:form:{g.user.id}:{key}"
    try:
        claimed = conn.set(slot, "", nx=True, ex=KEY_SECONDS)
    except redis.RedisError:
        return action()  # without Redis the browser's own guard (app.js) is what is left
    if not claimed:
        return _repeat(conn, slot)
    try:
        response = action()
    except BaseException:
        conn.delete(slot)
        raise
    if getattr(response, "status_code", 200) in (301, 302, 303):
        message = _last_flash()
        conn.set(slot, json.dumps({"to": response.headers["Location"], "flash": message}), ex=KEY_SECONDS)
    else:
        conn.delete(slot)  # shown again with an error: the corrected form may be sent
    return response


def _repeat(conn: redis.Redis, slot: str) -> Any:
    deadline = time.monotonic() + WAIT_SECONDS
    while time.monotonic() < deadline:
        raw = conn.get(slot)
        if raw:
            first = json.loads(raw)
            if first.get("flash"):
                category, message = first["flash"]
                flash(message, category)
            return redirect(first["to"], 303)
        if raw is None:
            break  # the first one failed and let go of the key
        time.sleep(0.1)
    flash("这张表单刚刚已经提交过，请查看结果后再操作。", "error")
    return redirect(request.path, 303)


@console_bp.context_processor
def _form_key_context() -> dict[str, Any]:
    return {"form_key": new_form_key}
