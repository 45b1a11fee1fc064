"""What every back-office page shares: local times, money, the navigation by role, the content security
policy, and HTML error pages in Chinese for the back office's paths."""
from __future__ import annotations

from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from flask import Flask, current_app, g, render_template, request
from flask_wtf.csrf import generate_csrf

WEB_PREFIXES = ("/workbench", "/console", "/expert", "/login", "/logout")

# scripts and styles only from this site (no inline script), QR codes from WeChat, never framed
CONTENT_SECURITY_POLICY = ("default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
                           "img-src 'self' data: https://mp.weixin.qq.com; connect-src 'self'; "
                           "frame-ancestors 'none'; form-action 'self'; base-uri 'none'")

# rq-dashboard (admins only, /console/jobs/rq) ships inline scripts and underscore templates (eval):
# its pages alone may run them
RQ_DASHBOARD_PATH = "/console/jobs/rq"
RQ_DASHBOARD_POLICY = CONTENT_SECURITY_POLICY.replace("script-src 'self'",
                                                      "script-src 'self' 'unsafe-inline' 'unsafe-eval'")

_ERROR_TITLES = {400: "请求有误", 401: "请先登录", 403: "没有权限", 404: "页面不存在", 405: "不支持的操作",
                 409: "状态冲突", 413: "内容太大", 422: "不符合规则", 429: "操作太频繁", 500: "服务器出错",
                 503: "服务暂不可用"}


def local_time(moment: datetime | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    """A moment as people read it, in PLATFORM_TIMEZONE (never UTC); a naive value is UTC."""
    if moment is None:
        return "—"
    zone = ZoneInfo(current_app.extensions["platform"].settings.orders.timezone)
    aware = moment if moment.tzinfo else moment.replace(tzinfo=ZoneInfo("UTC"))
    return aware.astimezone(zone).strftime(fmt)


def local_date(value: date | datetime | None) -> str:
    if value is None:
        return "—"
    return local_time(value, "%Y-%m-%d") if isinstance(value, datetime) else value.isoformat()


def yuan(cents: int | None) -> str:
    return "—" if cents is None else f"¥{cents / 100:,.2f}"


def is_web_path(path: str) -> bool:
    return path == "/" or path.startswith(WEB_PREFIXES)


def html_error_page(status: int, code: str, message: str) -> Any:
    """The back office's answer to an error on its own paths (the JSON API keeps its JSON shape);
    None leaves the JSON answer."""
    if not is_web_path(request.path) or request.accept_mimetypes.best == "application/json":
        return None
    title = _ERROR_TITLES.get(status, "出错了")
    return render_template("error.html", status=status, title=title, message=message, code=code), status


def register_page_helpers(app: Flask) -> None:
    app.add_template_filter(local_time, "local_time")
    app.add_template_filter(local_date, "local_date")
    app.add_template_filter(yuan, "yuan")

    @app.context_processor
    def _page_context() -> dict[str, Any]:
        return {"csrf_token": generate_csrf, "current_user": getattr(g, "user", None),
                "timezone": current_app.extensions["platform"].settings.orders.timezone}

    @app.after_request
    def _page_headers(response: Any) -> Any:
        if is_web_path(request.path) and response.mimetype == "text/html":
            response.headers["Content-Security-Policy"] = (
                RQ_DASHBOARD_POLICY if request.path.startswith(RQ_DASHBOARD_PATH) else CONTENT_SECURITY_POLICY)
            response.headers["Cache-Control"] = "no-store"  # pages show private data: no shared caches
        return response
