"""Production serving: `gunicorn 'app:create_app()'` reads this file.

Each worker loads the search model and index before it takes traffic, so the
first message after a (re)start does not pay for it.
"""
from __future__ import annotations

import gunicorn.http.wsgi

from core.config import load_settings

# production does not announce its software: gunicorn has no setting for its Server header, and
# reads this name each time it builds a response
gunicorn.http.wsgi.SERVER = "platform"

_settings = load_settings()
bind = f"{_settings.host}:{_settings.port}"
workers = _settings.web_workers
threads = 4
timeout = 60


def post_worker_init(worker) -> None:  # type: ignore[no-untyped-def]
    from core.errors import AppError

    engine = worker.wsgi.extensions["search"]
    try:
        engine.warm()
        worker.log.info("search warmed: index %s", engine.index().manifest.version)
    except AppError as exc:  # no index yet: search answers 503 with the rebuild hint until there is one
        worker.log.warning("search not warmed: %s", exc.message)
