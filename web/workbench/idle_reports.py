"""闲置通报 in the workbench: an institution's part of the latest idle reports, and the hours its admin
reports for instruments and months the sensors did not cover (自报)."""
from __future__ import annotations

from typing import Any

from flask import flash, g, redirect, render_template, request, url_for
from sqlalchemy import select

from core.errors import AppError
from core.models import Instrument, Role
from core.services.data import self_reports
from web.idle_report_pages import chosen_report, download, page_context
from web.session import LAB_ROLES, platform, requires
from web.workbench.blueprint import workbench_bp


@workbench_bp.get("/idle-reports")
@requires(*LAB_ROLES)
def idle_reports_page():  # type: ignore[no-untyped-def]
    with platform().transaction(write=False) as session:
        stored, chosen, view = chosen_report(session)
        instruments = list(session.scalars(select(Instrument).where(
            Instrument.institution_id == g.user.institution_id).order_by(Instrument.code)))
        reported = self_reports.reports_of(session, g.user.institution_id)
    return render_template("workbench/idle_reports.html", reports=stored, chosen=chosen, instruments=instruments,
                           reported=reported, may_report=g.user.role == Role.institution_admin, **page_context(view))


@workbench_bp.post("/idle-reports/hours")
@requires(Role.institution_admin)
def report_hours():  # type: ignore[no-untyped-def]
    p = platform()
    form = request.form
    try:
        with p.transaction() as session:
            row = self_reports.report_hours(session, g.user, form.get("instrument", ""), form.get("month", ""),
                                            form.get("hours", ""), form.get("note", ""), p.settings.orders.timezone)
            flash(f"已记录 {form.get('instrument')} {row.month} 的自报机时 {row.hours:g} 小时。", "success")
    except AppError as exc:
        flash(exc.message, "error")
    return redirect(url_for("workbench.idle_reports_page") + "#self-report", 303)


@workbench_bp.get("/idle-reports/<int:report_id>.<kind>")
@requires(*LAB_ROLES)
def idle_report_file(report_id: int, kind: str) -> Any:
    p = platform()
    with p.transaction(write=False) as session:
        return download(session, report_id, kind, p.settings.orders.timezone)
