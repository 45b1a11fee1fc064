"""年度评价 (console): the rounds, opening one, its deadlines, assigning experts (never to their own
institution) and the progress of self-reports and expert signatures. Results, publication, appeals and
the files are in evaluation_results.py; every step calls core/services/data/evaluation_*.py."""
from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask import flash, g, redirect, render_template, request, url_for
from sqlalchemy import select

from core.errors import AppError
from core.evaluation_rules import GRADE_LABELS
from core.models import Institution, OnboardingStatus
from core.services.data import evaluation_rounds as rounds
from core.services.data.evaluation_indicators import measure
from core.services.data.evaluation_self_reports import gaps
from web.console.blueprint import console_bp
from web.console.form_once import once
from web.session import ADMIN_ROLES, platform, requires

OPEN_FIELDS = ("year", "title", "budget", "self_report_due", "scoring_due", "appeal_days")


def _default_form() -> dict[str, Any]:
    p = platform()
    today = rounds.today_in(p.settings)
    return {"year": str(today.year - 1), "title": "", "budget": "",
            "self_report_due": (today + timedelta(days=30)).isoformat(),
            "scoring_due": (today + timedelta(days=60)).isoformat(),
            "appeal_days": str(p.settings.evaluation.appeal_days), "institutions": None}


def _list_page(form: dict[str, Any], error: str | None = None, status: int = 200) -> Any:
    with platform().transaction(write=False) as session:
        rows = rounds.list_rounds(session)
        institutions = list(session.scalars(select(Institution).order_by(Institution.code)))
    return render_template("console/evaluation.html", rows=rows, institutions=institutions, form=form, error=error,
                           approved=OnboardingStatus.approved, status_labels=rounds.STATUS_LABELS), status


@console_bp.get("/evaluation")
@requires(*ADMIN_ROLES)
def evaluation_rounds():  # type: ignore[no-untyped-def]
    return _list_page(_default_form())


@console_bp.post("/evaluation")
@requires(*ADMIN_ROLES)
def evaluation_open():  # type: ignore[no-untyped-def]
    form: dict[str, Any] = {k: (request.form.get(k) or "").strip()[:200] for k in OPEN_FIELDS}
    form["institutions"] = request.form.getlist("institutions")

    def action() -> Any:
        p = platform()
        try:
            with p.transaction() as session:
                round_ = rounds.open_round(
                    session, g.user, p.settings, year=form["year"], title=form["title"], budget_cny=form["budget"],
                    institution_ids=form["institutions"], self_report_due=form["self_report_due"],
                    scoring_due=form["scoring_due"], appeal_days=form["appeal_days"])
                round_id, year = round_.id, round_.year
        except AppError as exc:
            return _list_page(form, exc.message, exc.status)
        flash(f"已开启 {year} 年度评价，请为各机构分配评审专家。", "success")
        return redirect(url_for("console.evaluation_round", round_id=round_id), 303)
    return once(action)


def _round_page(round_id: int, error: str | None = None, status: int = 200) -> Any:
    p = platform()
    tz = p.settings.orders.timezone
    with p.transaction(write=False) as session:
        round_ = rounds.load_round(session, round_id)
        progress = rounds.progress(session, round_id)
        threshold = round_.rules["gap_threshold"]
        flagged = {row.institution.id: sum(1 for gap in gaps(row.self_report, measure(session, row.institution.id,
                                                                                          round_.year, tz), threshold)
                                           if gap.flagged)
                   for row in progress if row.self_report is not None}
        panel = rounds.experts(session)
        experts_of = {e.id: e for e in panel}
        tree = rounds.tree_of(round_)
    return render_template("console/evaluation_round.html", round=round_, progress=progress, flagged=flagged,
                           panel=panel, experts_of=experts_of, tree=tree, error=error, grade_labels=GRADE_LABELS,
                           status_labels=rounds.STATUS_LABELS, threshold=threshold,
                           today=rounds.today_in(p.settings)), status


@console_bp.get("/evaluation/<int:round_id>")
@requires(*ADMIN_ROLES)
def evaluation_round(round_id: int):  # type: ignore[no-untyped-def]
    return _round_page(round_id)


def _round_action(round_id: int, work: Any, done: str) -> Any:
    """One unit of work on the round; a refusal comes back on the round's page in Chinese."""
    def action() -> Any:
        p = platform()
        try:
            with p.transaction() as session:
                message = work(session, p) or done
        except AppError as exc:
            return _round_page(round_id, exc.message, exc.status)
        flash(message, "success")
        return redirect(url_for("console.evaluation_round", round_id=round_id), 303)
    return once(action)


@console_bp.post("/evaluation/<int:round_id>/deadlines")
@requires(*ADMIN_ROLES)
def evaluation_deadlines(round_id: int):  # type: ignore[no-untyped-def]
    def work(session: Any, p: Any) -> None:
        rounds.set_deadlines(session, g.user, round_id, request.form.get("self_report_due"),
                             request.form.get("scoring_due"), request.form.get("appeal_days"))
    return _round_action(round_id, work, "截止日期已更新。")


@console_bp.post("/evaluation/<int:round_id>/assign")
@requires(*ADMIN_ROLES)
def evaluation_assign(round_id: int):  # type: ignore[no-untyped-def]
    def work(session: Any, p: Any) -> str:
        outcome = rounds.assign_experts(session, g.user, round_id, request.form.getlist("experts"),
                                        request.form.getlist("institutions"))
        message = f"新增 {outcome.added} 项专家分配" + (f"，{outcome.already} 项已分配过" if outcome.already else "") + "。"
        if outcome.conflicts:
            message += "以下专家须回避本单位，未分配：" + "；".join(f"{x} → {i}" for x, i in outcome.conflicts) + "。"
        return message
    return _round_action(round_id, work, "")


@console_bp.post("/evaluation/<int:round_id>/unassign")
@requires(*ADMIN_ROLES)
def evaluation_unassign(round_id: int):  # type: ignore[no-untyped-def]
    raw = request.form.get("assignment_id", "")
    assignment_id = int(raw) if raw.isdigit() and len(raw) < 10 else 0
    return _round_action(round_id, lambda s, p: rounds.unassign(s, g.user, round_id, assignment_id),
                         "已取消该专家的分配，其对该机构的评分一并删除。")
