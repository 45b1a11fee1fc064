"""GET /healthz — what an operator checks first."""
from __future__ import annotations

from flask import Blueprint, current_app, jsonify
from redis import RedisError
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from core.errors import AppError

health_bp = Blueprint("health", __name__)


@health_bp.get("/healthz")
def healthz():  # type: ignore[no-untyped-def]
    platform = current_app.extensions["platform"]
    checks: dict[str, str] = {}
    try:
        with platform.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        checks["database"] = "ok"
    except SQLAlchemyError as exc:
        checks["database"] = f"error: {exc.__class__.__name__}"
    try:
        platform.redis.ping()
        checks["redis"] = "ok"
    except RedisError as exc:
        checks["redis"] = f"error: {exc.__class__.__name__}"
    try:
        checks["search_index"] = current_app.extensions["search"].index().manifest.version
    except AppError as exc:
        checks["search_index"] = f"error: {exc.message}"
    healthy = all(not v.startswith("error") for v in checks.values())
    mode = "demo" if platform.settings.demo_mode else "production"
    return jsonify({"status": "ok" if healthy else "degraded", "mode": mode, "checks": checks}), 200 if healthy else 503
