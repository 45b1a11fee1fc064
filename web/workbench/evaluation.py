"""年度评价 (workbench): the institution's rounds; the institution admin's self-report (figures and PDF
attachments) until its deadline, shown beside what the platform measured; the published result and score
sheet (experts anonymous), its files, and the appeal within the window. Lab staff see, admins act."""
from __future__ import annotations

from typing import Any
from urllib.parse import quote

from flask import Response, flash, g, redirect, render_template, request, url_for
from sqlalchemy import select

from core.errors import AppError, NotFound
from core.models import EvaluationEntry, EvaluationRound, Role
from core.report_storage import LocalReportStorage
from core.services.data import evaluation_appeals as appeals
from core.services.data import evaluation_rounds as rounds
from core.services.data.evaluation_export import render, sheet_document
from core.services.data.evaluation_indicators import measure
from core.services.data.evaluation_self_reports import (attachment, attachments_dir, gaps, self_report_of,
                                                        submit_self_report)
from core.services.data.evaluation_sheets import score_sheet
from web.session import LAB_ROLES, platform, requires
from web.workbench.blueprint import workbench_bp

FIGURES = ("effective_hours", "external_hours", "instruments_open", "external_income")


def _own_round(session: Any, round_id: int) -> tuple[EvaluationRound, EvaluationEntry]:
    """A round this institution takes part in; any other is a 404, as if it did not exist."""
    round_ = rounds.load_round(session, round_id)
    return round_, rounds.load_entry(session, round_id, g.user.institution_id or 0)


@workbench_bp.get("/evaluation")
@requires(*LAB_ROLES)
def evaluation_home():  # type: ignore[no-untyped-def]
    with platform().transaction(write=False) as session:
        rows = session.execute(select(EvaluationRound, EvaluationEntry)
                               .join(EvaluationEntry, EvaluationEntry.round_id == EvaluationRound.id)
                               .where(EvaluationEntry.institution_id == (g.user.institution_id or 0))
                               .order_by(EvaluationRound.year.desc())).all()
    return render_template("workbench/evaluation.html", rows=rows)


def _round_page(round_id: int, error: str | None = None, form: dict[str, Any] | None = None, status: int = 200) -> Any:
    p = platform()
    tz = p.settings.orders.timezone
    today = rounds.today_in(p.settings)
    with p.transaction(write=False) as session:
        round_, entry = _own_round(session, round_id)
        report = self_report_of(session, round_id, entry.institution_id)
        figures = measure(session, entry.institution_id, round_.year, tz)
        sheet = (score_sheet(session, round_id, entry.institution_id, tz, anonymous=True, published_only=True)
                 if entry.result is not None else None)
        appeal = appeals.appeal_of(session, round_id, entry.institution_id)
    if form is None and report is not None:
        form = {"effective_hours": f"{report.effective_hours:g}", "external_hours": f"{report.external_hours:g}",
                "instruments_open": str(report.instruments_open),
                "external_income": f"{report.external_income_fen / 100:.2f}", "summary": report.summary}
    return render_template(
        "workbench/evaluation_round.html", round=round_, entry=entry, report=report, figures=figures, sheet=sheet,
        gaps=gaps(report, figures, round_.rules["gap_threshold"]), threshold=round_.rules["gap_threshold"],
        appeal=appeal, appeal_status=appeals.STATUS_LABELS, can_act=g.user.role == Role.institution_admin,
        report_open=round_.status == "open" and today <= round_.self_report_due,
        appeal_open=appeals.appeal_open(round_, today) and appeal is None, form=form or {}, error=error,
        max_mb=p.settings.evaluation.attachment_max_bytes / (1024 * 1024)), status


@workbench_bp.get("/evaluation/<int:round_id>")
@requires(*LAB_ROLES)
def evaluation_round(round_id: int):  # type: ignore[no-untyped-def]
    return _round_page(round_id)


@workbench_bp.post("/evaluation/<int:round_id>/self-report")
@requires(Role.institution_admin)
def evaluation_self_report(round_id: int):  # type: ignore[no-untyped-def]
    p = platform()
    form = {k: (request.form.get(k) or "")[:5000] for k in (*FIGURES, "summary")}
    limit = p.settings.evaluation.attachment_max_bytes
    files = []
    for upload in request.files.getlist("files"):
        if upload and upload.filename:
            files.append((upload.filename, upload.stream.read(limit + 1)))  # never more than the limit into memory
    try:
        with p.transaction() as session:
            submit_self_report(session, g.user, round_id, form, form["summary"], files,
                               LocalReportStorage(attachments_dir(p.settings)), p.settings, rounds.today_in(p.settings))
    except NotFound:
        raise
    except AppError as exc:
        return _round_page(round_id, exc.message, form, exc.status)
    flash("自评报告已提交；截止日期前可以修改。", "success")
    return redirect(url_for("workbench.evaluation_round", round_id=round_id), 303)


@workbench_bp.post("/evaluation/<int:round_id>/appeal")
@requires(Role.institution_admin)
def evaluation_appeal(round_id: int):  # type: ignore[no-untyped-def]
    p = platform()
    try:
        with p.transaction() as session:
            appeals.file_appeal(session, g.user, round_id, request.form.get("reason"), rounds.today_in(p.settings))
    except NotFound:
        raise
    except AppError as exc:
        return _round_page(round_id, exc.message, None, exc.status)
    flash("申诉已提交，平台管理员处理后会通知您。", "success")
    return redirect(url_for("workbench.evaluation_round", round_id=round_id), 303)


@workbench_bp.get("/evaluation/<int:round_id>/sheet.xlsx", defaults={"kind": "xlsx"})
@workbench_bp.get("/evaluation/<int:round_id>/sheet.pdf", defaults={"kind": "pdf"})
@requires(*LAB_ROLES)
def evaluation_sheet_file(round_id: int, kind: str):  # type: ignore[no-untyped-def]
    p = platform()
    tz = p.settings.orders.timezone
    with p.transaction(write=False) as session:
        _, entry = _own_round(session, round_id)
        sheet = score_sheet(session, round_id, entry.institution_id, tz, anonymous=True, published_only=True)
        data, mime = render(sheet_document(sheet, tz), kind)
    return Response(data, mimetype=mime, headers={
        "Content-Disposition": f"attachment; filename*=UTF-8''{quote(f'评分表-{sheet.round.year}-{sheet.code}.{kind}')}",
        "Cache-Control": "no-store"})


@workbench_bp.get("/evaluation/<int:round_id>/attachments/<int:n>")
@requires(*LAB_ROLES)
def evaluation_attachment(round_id: int, n: int):  # type: ignore[no-untyped-def]
    p = platform()
    with p.transaction(write=False) as session:
        _, entry = _own_round(session, round_id)
        meta = attachment(session, round_id, entry.institution_id, n - 1)
    data = LocalReportStorage(attachments_dir(p.settings)).get(meta["key"])
    return Response(data, mimetype="application/pdf", headers={
        "Content-Disposition": f"attachment; filename*=UTF-8''{quote(meta['name'])}", "Cache-Control": "no-store"})
