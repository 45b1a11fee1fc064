"""年度评价 (console), the results side: the result table with its chart (a live preview until published),
publication, each institution's score sheet with its self-report beside the measured figures, appeals
(accept: that institution is reopened for its experts; reject with a reply), re-publication after an
appeal, and the files (XLSX and Chinese PDF)."""
from __future__ import annotations

from typing import Any
from urllib.parse import quote

from flask import Response, flash, g, redirect, render_template, request, url_for

from core.errors import AppError
from core.report_storage import LocalReportStorage
from core.services.data import evaluation_appeals as appeals
from core.services.data import evaluation_rounds as rounds
from core.services.data.evaluation_export import render, results_document, sheet_document
from core.services.data.evaluation_indicators import measure
from core.services.data.evaluation_publish import publish, republish, unsigned
from core.services.data.evaluation_self_reports import attachment, attachments_dir, gaps, self_report_of
from core.services.data.evaluation_sheets import Standings, score_sheet, standings
from web.console.blueprint import console_bp
from web.console.form_once import once
from web.session import ADMIN_ROLES, platform, requires

GRADE_COLOURS = {"excellent": "#198754", "good": "#0d6efd", "pass": "#fd7e14", "poor": "#dc3545"}


def results_chart(table: Standings) -> dict[str, Any] | None:
    """Each institution's points stacked by first-level group, best on top, with the grade lines."""
    if not table.rows:
        return None
    shown = list(reversed(table.rows))  # a category axis runs bottom-up
    grades = table.round.rules["grades"]
    series: list[dict[str, Any]] = [
        {"name": name, "type": "bar", "stack": "总分", "barMaxWidth": 28,
         "data": [r.groups.get(key, 0.0) for r in shown]} for key, name, _ in table.groups]
    series[-1]["markLine"] = {"symbol": "none", "label": {"formatter": "{b}"}, "lineStyle": {"type": "dashed"},
                              "data": [{"name": label, "xAxis": grades[key]}
                                       for key, label in (("excellent", "优秀"), ("good", "良好"), ("pass", "合格"))]}
    return {
        "tooltip": {"trigger": "axis", "axisPointer": {"type": "shadow"}},
        "legend": {"top": 0, "data": [name for _, name, _ in table.groups]},
        "grid": {"left": 8, "right": 24, "top": 40, "bottom": 8, "containLabel": True},
        "xAxis": {"type": "value", "name": "分", "min": 0, "max": 100},
        "yAxis": {"type": "category", "data": [f"{r.rank}. {r.name}" for r in shown],
                  "axisLabel": {"width": 160, "overflow": "truncate"}},
        "series": series,
    }


def _download(data: bytes, mime: str, name: str) -> Response:
    return Response(data, mimetype=mime, headers={
        "Content-Disposition": f"attachment; filename*=UTF-8''{quote(name)}", "Cache-Control": "no-store"})


def _results_page(round_id: int, error: str | None = None, status: int = 200) -> Any:
    p = platform()
    with p.transaction(write=False) as session:
        table = standings(session, round_id, p.settings.orders.timezone)
        problems = [] if table.published else unsigned(session, round_id)
    return render_template("console/evaluation_results.html", table=table, round=table.round, problems=problems,
                           chart=results_chart(table), error=error, colours=GRADE_COLOURS,
                           tie_name=rounds.tree_of(table.round).tie_break_name), status


@console_bp.get("/evaluation/<int:round_id>/results")
@requires(*ADMIN_ROLES)
def evaluation_results(round_id: int):  # type: ignore[no-untyped-def]
    return _results_page(round_id)


@console_bp.post("/evaluation/<int:round_id>/publish")
@requires(*ADMIN_ROLES)
def evaluation_publish(round_id: int):  # type: ignore[no-untyped-def]
    def action() -> Any:
        p = platform()
        try:
            with p.transaction() as session:
                results = publish(session, g.user, round_id, p.settings.orders.timezone, rounds.today_in(p.settings))
        except AppError as exc:
            return _results_page(round_id, exc.message, exc.status)
        flash(f"结果已发布，已通知 {len(results)} 个参评机构；申诉期内机构可在工作台提出申诉。", "success")
        return redirect(url_for("console.evaluation_results", round_id=round_id), 303)
    return once(action)


@console_bp.get("/evaluation/<int:round_id>/results.xlsx", defaults={"kind": "xlsx"})
@console_bp.get("/evaluation/<int:round_id>/results.pdf", defaults={"kind": "pdf"})
@requires(*ADMIN_ROLES)
def evaluation_results_file(round_id: int, kind: str):  # type: ignore[no-untyped-def]
    p = platform()
    tz = p.settings.orders.timezone
    with p.transaction(write=False) as session:
        table = standings(session, round_id, tz)
        data, mime = render(results_document(table, tz), kind)
    state = "" if table.published else "-预览"
    return _download(data, mime, f"评价结果-{table.round.year}{state}.{kind}")


@console_bp.get("/evaluation/<int:round_id>/institutions/<int:institution_id>")
@requires(*ADMIN_ROLES)
def evaluation_institution(round_id: int, institution_id: int):  # type: ignore[no-untyped-def]
    p = platform()
    tz = p.settings.orders.timezone
    with p.transaction(write=False) as session:
        round_ = rounds.load_round(session, round_id)
        sheet = score_sheet(session, round_id, institution_id, tz, anonymous=False, published_only=False)
        report = self_report_of(session, round_id, institution_id)
        figure_gaps = gaps(report, measure(session, institution_id, round_.year, tz), round_.rules["gap_threshold"])
        entry = rounds.load_entry(session, round_id, institution_id)
    return render_template("console/evaluation_institution.html", round=round_, sheet=sheet, report=report,
                           gaps=figure_gaps, entry=entry, institution_id=institution_id,
                           threshold=round_.rules["gap_threshold"])


@console_bp.get("/evaluation/<int:round_id>/institutions/<int:institution_id>/sheet.xlsx", defaults={"kind": "xlsx"})
@console_bp.get("/evaluation/<int:round_id>/institutions/<int:institution_id>/sheet.pdf", defaults={"kind": "pdf"})
@requires(*ADMIN_ROLES)
def evaluation_sheet_file(round_id: int, institution_id: int, kind: str):  # type: ignore[no-untyped-def]
    p = platform()
    tz = p.settings.orders.timezone
    with p.transaction(write=False) as session:
        sheet = score_sheet(session, round_id, institution_id, tz, anonymous=False, published_only=False)
        data, mime = render(sheet_document(sheet, tz), kind)
    return _download(data, mime, f"评分表-{sheet.round.year}-{sheet.code}.{kind}")


@console_bp.get("/evaluation/<int:round_id>/institutions/<int:institution_id>/attachments/<int:n>")
@requires(*ADMIN_ROLES)
def evaluation_attachment(round_id: int, institution_id: int, n: int):  # type: ignore[no-untyped-def]
    p = platform()
    with p.transaction(write=False) as session:
        meta = attachment(session, round_id, institution_id, n - 1)
    data = LocalReportStorage(attachments_dir(p.settings)).get(meta["key"])
    return _download(data, "application/pdf", meta["name"])


def _appeals_page(round_id: int, error: str | None = None, status: int = 200) -> Any:
    with platform().transaction(write=False) as session:
        round_ = rounds.load_round(session, round_id)
        rows = appeals.appeals(session, round_id)
        entries = {row.institution.id: rounds.load_entry(session, round_id, row.institution.id) for row in rows}
        waiting = {i: unsigned(session, round_id, i) for i, e in entries.items() if e.status == "reopened"}
    return render_template("console/evaluation_appeals.html", round=round_, rows=rows, entries=entries,
                           waiting=waiting, error=error), status


@console_bp.get("/evaluation/<int:round_id>/appeals")
@requires(*ADMIN_ROLES)
def evaluation_appeals(round_id: int):  # type: ignore[no-untyped-def]
    return _appeals_page(round_id)


def _appeal_action(round_id: int, work: Any, done: str) -> Any:
    def action() -> Any:
        p = platform()
        try:
            with p.transaction() as session:
                work(session, p)
        except AppError as exc:
            return _appeals_page(round_id, exc.message, exc.status)
        flash(done, "success")
        return redirect(url_for("console.evaluation_appeals", round_id=round_id), 303)
    return once(action)


def _form_id(name: str) -> int:
    raw = request.form.get(name, "")
    return int(raw) if raw.isdigit() and len(raw) < 10 else 0


@console_bp.post("/evaluation/<int:round_id>/appeals")
@requires(*ADMIN_ROLES)
def evaluation_decide(round_id: int):  # type: ignore[no-untyped-def]
    decision = {"accept": True, "reject": False}.get(request.form.get("decision", ""))
    done = "已受理申诉：该机构已重新开放给其评审专家复核评分。" if decision else "已驳回申诉，并通知该机构。"
    return _appeal_action(round_id, lambda s, p: appeals.decide_appeal(
        s, g.user, round_id, _form_id("appeal_id"), decision, request.form.get("reply")), done)


@console_bp.post("/evaluation/<int:round_id>/republish")
@requires(*ADMIN_ROLES)
def evaluation_republish(round_id: int):  # type: ignore[no-untyped-def]
    return _appeal_action(round_id, lambda s, p: republish(
        s, g.user, round_id, _form_id("institution_id"), p.settings.orders.timezone),
        "已重新发布该机构的结果；排名与补助经费已按全部机构重新计算，合计仍等于预算。")
