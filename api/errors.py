"""Every error from a JSON endpoint in the one shape of DESIGN.md."""
from __future__ import annotations

import logging

from flask import Flask, current_app, jsonify, request
from sqlalchemy.exc import OperationalError
from werkzeug.exceptions import HTTPException

from core.db import BUSY_MESSAGE, is_busy
from core.errors import AppError

log = logging.getLogger(__name__)


# werkzeug's own errors (unknown route, wrong method, body too large …) said in Chinese, by status
_HTTP_MESSAGES = {
    400: "请求无法解析，请检查请求内容。",
    401: "请先登录。",
    403: "没有权限访问。",
    404: "请求的地址不存在。",
    405: "该地址不支持 {method} 请求。",
    406: "无法按请求的格式返回内容。",
    408: "请求超时，请重试。",
    409: "请求与当前状态冲突。",
    410: "请求的内容已不存在。",
    411: "请求须带 Content-Length。",
    413: "上传的内容太大。",
    414: "请求地址太长。",
    415: "不支持的请求内容类型。",
    422: "请求内容无法处理。",
    429: "请求过于频繁，请稍后再试。",
    500: "服务器出错了，我们已记录下来，会尽快处理。",
    501: "暂不支持该功能。",
    502: "上游服务出错，请稍后再试。",
    503: "服务暂时不可用，请稍后再试。",
    504: "上游服务超时，请稍后再试。",
}


def _http_message(status: int) -> str:
    template = _HTTP_MESSAGES.get(status)
    if template is None:
        return f"请求未能处理（HTTP {status}）。"
    return template.format(method=request.method) if "{method}" in template else template


def error_response(status: int, code: str, message: str, details: dict | None = None):  # type: ignore[no-untyped-def]
    # the back office registers its HTML page for its own paths; everywhere else the JSON shape
    page = current_app.extensions.get("html_error_page")
    answer = page(status, code, message) if page else None
    if answer is not None:
        return answer
    response = jsonify({"error": {"code": code, "message": message, "details": details or {}}})
    response.status_code = status
    return response


def register_error_handlers(app: Flask) -> None:
    @app.errorhandler(AppError)
    def _app_error(exc: AppError):  # type: ignore[no-untyped-def]
        response = error_response(exc.status, exc.code, exc.message, exc.details)
        if "retry_after" in exc.details and not isinstance(response, tuple):
            response.headers["Retry-After"] = str(exc.details["retry_after"])
        return response

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException):  # type: ignore[no-untyped-def]
        slug = (exc.name or "error").lower().replace(" ", "_")
        return error_response(exc.code or 500, slug, _http_message(exc.code or 500))

    @app.errorhandler(OperationalError)
    def _database_error(exc: OperationalError):  # type: ignore[no-untyped-def]
        # a busy SQLite past the write lock's retries (a commit, a read that had to write) is "try again"
        if is_busy(exc):
            response = error_response(503, "database_busy", BUSY_MESSAGE)
            if not isinstance(response, tuple):
                response.headers["Retry-After"] = "5"
            return response
        log.exception("database error")
        return error_response(500, "internal_error", _HTTP_MESSAGES[500])

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception):  # type: ignore[no-untyped-def]
        log.exception("unhandled error")
        return error_response(500, "internal_error", _HTTP_MESSAGES[500])
