"""Every error from a JSON endpoint in the one shape of DESIGN.md."""
from __future__ import annotations

import logging

from flask import Flask, jsonify
from werkzeug.exceptions import HTTPException

from core.errors import AppError

log = logging.getLogger(__name__)


def error_response(status: int, code: str, message: str, details: dict | None = None):  # type: ignore[no-untyped-def]
    response = jsonify({"error": {"code": code, "message": message, "details": details or {}}})
    response.status_code = status
    return response


def register_error_handlers(app: Flask) -> None:
    @app.errorhandler(AppError)
    def _app_error(exc: AppError):  # type: ignore[no-untyped-def]
        response = error_response(exc.status, exc.code, exc.message, exc.details)
        if "retry_after" in exc.details:
            response.headers["Retry-After"] = str(exc.details["retry_after"])
        return response

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException):  # type: ignore[no-untyped-def]
        slug = (exc.name or "error").lower().replace(" ", "_")
        return error_response(exc.code or 500, slug, exc.description or exc.name or "Error")

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception):  # type: ignore[no-untyped-def]
        log.exception("unhandled error")
        return error_response(500, "internal_error", "Something went wrong on our side; it has been logged.")
