"""后台任务: the job outbox as `flask orders jobs` reports it (unfinished jobs by name and state, their
last errors, refunds not yet confirmed) with its redrive, and rq-dashboard mounted under
/console/jobs/rq for a look at the queues themselves, behind the same admin sign-in."""
from __future__ import annotations

from typing import Any
from urllib.parse import quote, urlsplit

import rq_dashboard
from flask import Flask, abort, current_app, flash, redirect, render_template, request, url_for
from werkzeug.routing import IntegerConverter

from core.services.orders.outbox_report import outbox_summary, redrive
from web.console.blueprint import console_bp
from web.console.form_once import once
from web.session import ADMIN_ROLES, platform, requires

RQ_PREFIX = "/console/jobs/rq"
JOB_LABELS = {
    "sync_search_index": "同步搜索索引", "rebuild_search_index": "重建搜索索引", "send_wechat_text": "发送微信消息",
    "send_notification": "推送通知", "send_staff_email": "发送通知邮件", "expire_unpaid_order": "关闭超时未付订单",
    "auto_confirm_order": "自动确认订单", "remind_before_auto_confirm": "自动确认前提醒",
    "close_group_buy": "结束团购", "send_refund": "发起退款", "check_refund": "查询退款结果",
    "check_payment": "查询支付结果", "send_profit_share": "分账", "sweep_due_work": "定时巡检",
}
STATE_LABELS = {"pending": "等待中", "enqueued": "已投递", "running": "运行中"}
REFUND_LABELS = {"requested": "已申请", "processing": "处理中", "failed": "失败"}


def job_label(name: str) -> str:
    short = name.rsplit(".", 1)[-1]
    return JOB_LABELS.get(short, short)


@console_bp.get("/jobs")
@requires(*ADMIN_ROLES)
def jobs():  # type: ignore[no-untyped-def]
    with platform().transaction(write=False) as session:
        summary = outbox_summary(session)
    unfinished = [(job_label(name), name.rsplit(".", 1)[-1], STATE_LABELS.get(state, state), n)
                  for (name, state), n in sorted(summary.unfinished.items())]
    errors = [(job_id, job_label(name), attempts, error) for job_id, name, attempts, error in summary.errors]
    refunds = [(REFUND_LABELS.get(status, status), n, cents) for status, (n, cents) in sorted(summary.refunds.items())]
    return render_template("console/jobs.html", summary=summary, unfinished=unfinished, errors=errors,
                           refunds=refunds, rq_url=RQ_PREFIX + "/")


@console_bp.post("/jobs/redrive")
@requires(*ADMIN_ROLES)
def jobs_redrive():  # type: ignore[no-untyped-def]
    def action() -> Any:
        with platform().transaction() as session:
            count = redrive(session)
        flash(f"{count} 个到期未完成的任务将由下一轮中继重新投递。" if count else "没有需要重新投递的任务。", "success")
        return redirect(url_for("console.jobs"), 303)
    return once(action)


# ---- rq-dashboard -----------------------------------------------------------------------------
_admin_only = requires(*ADMIN_ROLES)(lambda: None)  # the console's own check: None when allowed


def _redis_url() -> str:
    """The platform's Redis as a URL rq-dashboard can open (the embedded one is a unix socket)."""
    settings = platform().settings
    if settings.redis_url:
        return settings.redis_url
    kwargs = platform().redis.connection_pool.connection_kwargs
    if "path" in kwargs:
        return f"unix://{quote(kwargs['path'])}?db={kwargs.get('db', 0)}"
    return f"redis://{kwargs.get('host', '127.0.0.1')}:{kwargs.get('port', 6379)}/{kwargs.get('db', 0)}"


def _same_origin() -> bool:
    # its scripts post without our CSRF token: the cookie is SameSite=Lax, and the post must come from here
    source = request.headers.get("Origin") or request.headers.get("Referer") or ""
    return urlsplit(source).netloc == request.host


def _guard_rq_dashboard() -> Any:
    """Before rq-dashboard's own before_request (app-level hooks run first): admins only, then its
    Redis connection, made on first use rather than at start (the embedded Redis starts lazily)."""
    if request.blueprint != "rq_dashboard":
        return None
    denied = _admin_only()
    if denied is not None:
        return denied
    if request.method == "POST" and not _same_origin():
        abort(403)
    if request.method == "GET" and request.endpoint == "rq_dashboard.requeue_all":
        abort(405)  # a link must not requeue every failed job
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    if "RQ_DASHBOARD_REDIS_URL" not in app.config:
        app.config["RQ_DASHBOARD_REDIS_URL"] = (_redis_url(),)
    app.redis_conn = platform().redis  # type: ignore[attr-defined]
    return None


def mount_rq_dashboard(app: Flask) -> None:
    app.config.setdefault("RQ_DASHBOARD_POLL_INTERVAL", 5000)
    # rq-dashboard numbers its Redis instances from 0, which the platform's `int` (a record id, from 1)
    # refuses: its routes are added with werkzeug's plain one (a rule takes its converter when added)
    converters = app.url_map.converters
    record_id = converters["int"]
    converters["int"] = IntegerConverter
    try:
        app.register_blueprint(rq_dashboard.blueprint, url_prefix=RQ_PREFIX)
    finally:
        converters["int"] = record_id
    app.before_request(_guard_rq_dashboard)
