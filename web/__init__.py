"""The back office: the lab workbench and the platform console, server-rendered (Jinja2, htmx, ECharts).

Every action calls the same core/services functions as the JSON API, so the audit trail, the job outbox
and notifications behave the same way whichever door a person came through."""
from __future__ import annotations

from flask import Blueprint, Flask
from flask_wtf.csrf import CSRFError

from web.pages import html_error_page, register_page_helpers
from web.session import csrf, session_bp


def blueprints() -> list[Blueprint]:
    from web.console import console_blueprints
    from web.expert import expert_blueprints
    from web.workbench import workbench_blueprints

    return [session_bp, *workbench_blueprints(), *console_blueprints(), *expert_blueprints()]


def init_web(app: Flask) -> None:
    """Session cookie, CSRF, template helpers and HTML error pages for the back office's paths."""
    settings = app.extensions["platform"].settings
    app.config.update(
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        # production runs behind TLS; the demo on http://127.0.0.1 could not keep a Secure cookie
        SESSION_COOKIE_SECURE=not settings.demo_mode,
        SESSION_COOKIE_NAME="platform_session",
        PERMANENT_SESSION_LIFETIME=settings.console_session_hours * 3600,
        # checked by the web blueprints only: the JSON API and the WeChat endpoint carry no cookie
        WTF_CSRF_CHECK_DEFAULT=False,
        WTF_CSRF_TIME_LIMIT=None,
    )
    csrf.init_app(app)
    register_page_helpers(app)
    from web.console.jobs import mount_rq_dashboard

    mount_rq_dashboard(app)  # rq-dashboard under /console/jobs/rq, behind the admin sign-in
    app.extensions["html_error_page"] = html_error_page

    @app.errorhandler(CSRFError)
    def _form_expired(_exc: CSRFError):  # type: ignore[no-untyped-def]
        return html_error_page(400, "csrf_failed", "表单已过期或来源不明，请刷新页面后重新提交。") or (
            {"error": {"code": "csrf_failed", "message": "表单已过期或来源不明，请刷新页面后重新提交。", "details": {}}}, 400)
