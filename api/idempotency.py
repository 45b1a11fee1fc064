"""`Idempotency-Key` on every POST of the JSON API: the hooks around the handlers."""
from __future__ import annotations

import hashlib
import logging
import re

from flask import Flask, Response, current_app, g, request
from sqlalchemy.exc import SQLAlchemyError

from core import idempotency
from core.errors import InvalidInput

log = logging.getLogger(__name__)

HEADER = "Idempotency-Key"
_KEY = re.compile(r"^[\x21-\x7e]{1,255}$")  # printable ASCII, as the header allows
# notifications carry their own identity (WeChat Pay retries them with the same body)
_EXEMPT = re.compile(r"^/api/v1/payments/[^/]+/notify$")


def _scope() -> str:
    """Whose key it is: two users may pick the same key without meeting."""
    auth = request.headers.get("Authorization", "")
    who = ("token:" + auth) if auth else ("ip:" + (request.remote_addr or "-"))
    return hashlib.sha256(who.encode()).hexdigest()[:64]


def _fingerprint() -> str:
    digest = hashlib.sha256()
    for part in (request.method, request.path, request.query_string.decode("latin-1")):
        digest.update(part.encode() + b"\0")
    digest.update(request.get_data(cache=True))
    return digest.hexdigest()


def _before() -> Response | None:
    key = request.headers.get(HEADER)
    if key is None or request.method != "POST" or not request.path.startswith("/api/") or _EXEMPT.match(request.path):
        return None
    if not _KEY.match(key):
        raise InvalidInput("Idempotency-Key 须为 1 到 255 个可打印 ASCII 字符。", code="invalid_idempotency_key")
    scope = _scope()
    replay = idempotency.begin(current_app.extensions["platform"], scope, key, _fingerprint())
    if replay is not None:
        response = Response(replay.body, status=replay.status_code, content_type=replay.content_type)
        response.headers["Idempotent-Replayed"] = "true"
        return response
    g.idempotency = (scope, key)
    return None


def _after(response: Response) -> Response:
    claimed = g.pop("idempotency", None)
    if claimed is None:
        return response
    platform = current_app.extensions["platform"]
    try:
        if response.status_code >= 500:
            idempotency.release(platform, *claimed)
        else:
            idempotency.finish(platform, *claimed, response.status_code, response.content_type or "",
                               response.get_data())
    except SQLAlchemyError:
        # the answer itself stands; a retry with this key then waits on 'in progress' rather than run twice
        log.exception("could not record the answer of an idempotent request")
    return response


def register_idempotency(app: Flask) -> None:
    app.before_request(_before)
    app.after_request(_after)
