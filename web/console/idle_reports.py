"""闲置仪器通报 in the console: the reports generated so far, one of them with its charts (idle 原值 by
city, institutions ranked) and its instruments, a form to generate a period again, and the files."""
from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from flask import flash, g, redirect, render_template, request, url_for

from core.errors import AppError
from core.models._types import local_today
from core.services.data import idle_report, idle_reports
from web.console.blueprint import console_bp
from web.console.form_once import once
from web.idle_report_pages import chosen_report, download, page_context
from web.session import ADMIN_ROLES, platform, requires

def default_period(today: date) -> tuple[str, str]:
    """The last two whole months ending with an even month (the bi-monthly report's rhythm)."""
    end = today.replace(day=1) - timedelta(days=1)
    if end.month % 2:
        end = end.replace(day=1) - timedelta(days=1)
    start = (end.replace(day=1) - timedelta(days=1)).replace(day=1)
    return f"{start:%Y-%m}", f"{end:%Y-%m}"


@console_bp.get("/idle-reports")
@requires(*ADMIN_ROLES)
def idle_reports_page():  # type: ignore[no-untyped-def]
    p = platform()
    tz = p.settings.orders.timezone
    with p.transaction(write=False) as session:
        stored, chosen, view = chosen_report(session)
        listing = [(r, r.body["totals"]["idle"], r.body["totals"]["idle_value_cny"]) for r in stored]
    start, end = default_period(local_today(tz))
    return render_template("console/idle_reports.html", reports=listing, chosen=chosen, start=start, end=end,
                           **page_context(view))


@console_bp.post("/idle-reports")
@requires(*ADMIN_ROLES)
def generate_idle_report():  # type: ignore[no-untyped-def]
    def work() -> Any:
        p = platform()
        tz = p.settings.orders.timezone
        start, end = request.form.get("from", ""), request.form.get("to", "")
        try:
            with p.transaction() as session:
                report = idle_report.generate(session, start, end, p.settings.data, tz, g.user.display_name)
                told = idle_reports.notify_institutions(session, report, tz)
                report_id, version, idle = report.id, report.version, report.body["totals"]["idle"]
        except AppError as exc:
            flash(exc.message, "error")
            return redirect(url_for("console.idle_reports_page"), 303)
        flash(f"已生成 {start} 至 {end} 闲置仪器通报（第 {version} 版）：{idle} 台闲置，已通知 {told} 位单位管理员。", "success")
        return redirect(url_for("console.idle_reports_page", report=report_id), 303)
    return once(work)


@console_bp.get("/idle-reports/<int:report_id>.<kind>")
@requires(*ADMIN_ROLES)
def idle_report_file(report_id: int, kind: str):  # type: ignore[no-untyped-def]
    p = platform()
    with p.transaction(write=False) as session:
        return download(session, report_id, kind, p.settings.orders.timezone)
