"""年度评价 (experts' desk): the institutions assigned to this expert and nothing else; for each, the
platform's data indicators with their computation, the self-report beside the measured figures (gaps
flagged), the attachments, and the scoring form (points and a comment per expert indicator) with the
signature that locks it. An unassigned institution is a 404; the expert's own institution a 403."""
from __future__ import annotations

from typing import Any
from urllib.parse import quote

from flask import Response, flash, g, redirect, render_template, request, url_for

from core.errors import AppError
from core.models import Role
from core.report_storage import LocalReportStorage
from core.services.data import evaluation_experts as experts
from core.services.data import evaluation_rounds as rounds
from core.services.data.evaluation_self_reports import attachment, attachments_dir, gaps, self_report_of
from core.services.data.evaluation_sheets import live_result
from web.expert.blueprint import NAV, expert_bp
from web.expert.home import WAITING
from web.session import platform, requires

NAV.append(("年度评价", "/expert/evaluation"))
WAITING.append(("年度评价：待评分的机构", "/expert/evaluation",
                lambda session, user: experts.waiting_count(session, user, rounds.today_in(platform().settings))))


def _refused(exc: AppError) -> Any:
    """The back office's Chinese error page, rendered here: web/pages.py does not list /expert among the
    back office's paths, so the app's handler would answer these in JSON."""
    title = {403: "没有权限", 404: "页面不存在"}.get(exc.status, "出错了")
    return render_template("error.html", status=exc.status, title=title, message=exc.message, code=exc.code), exc.status


@expert_bp.get("/evaluation")
@requires(Role.expert)
def evaluation_tasks():  # type: ignore[no-untyped-def]
    p = platform()
    with p.transaction(write=False) as session:
        tasks = experts.my_tasks(session, g.user, rounds.today_in(p.settings))
    return render_template("expert/evaluation.html", tasks=tasks)


def _task_page(round_id: int, institution_id: int, error: str | None = None,
               form: dict[str, tuple[str, str]] | None = None, status: int = 200) -> Any:
    p = platform()
    tz = p.settings.orders.timezone
    today = rounds.today_in(p.settings)
    try:
        with p.transaction(write=False) as session:
            assignment = experts.load_assignment(session, g.user, round_id, institution_id)
            task = next(t for t in experts.my_tasks(session, g.user, today) if t.assignment.id == assignment.id)
            result = live_result(session, round_id, institution_id, tz)
            report = self_report_of(session, round_id, institution_id)
            saved = experts.scores_of(session, assignment.id)
            leaves = rounds.tree_of(task.round).expert_leaves()
    except AppError as exc:
        return _refused(exc)
    values = form or {key: (f"{s.points:g}", s.comment) for key, s in saved.items()}
    threshold = task.round.rules["gap_threshold"]
    return render_template("expert/evaluation_task.html", task=task, result=result, report=report, leaves=leaves,
                           gaps=gaps(report, result.figures, threshold), threshold=threshold, values=values,
                           error=error, scored=len(saved)), status


@expert_bp.get("/evaluation/<int:round_id>/<int:institution_id>")
@requires(Role.expert)
def evaluation_task(round_id: int, institution_id: int):  # type: ignore[no-untyped-def]
    return _task_page(round_id, institution_id)


@expert_bp.post("/evaluation/<int:round_id>/<int:institution_id>/scores")
@requires(Role.expert)
def evaluation_scores(round_id: int, institution_id: int):  # type: ignore[no-untyped-def]
    p = platform()
    form = request.form
    keys = [k for k in form.getlist("indicator") if k][:50]
    # an indicator left blank is not saved (a draft may cover some of them); a half-filled one is checked
    values = {key: (form.get(f"points-{key}", "")[:50], form.get(f"comment-{key}", "")[:5000]) for key in keys
              if form.get(f"points-{key}", "").strip() or form.get(f"comment-{key}", "").strip()}
    try:
        with p.transaction() as session:
            experts.save_scores(session, g.user, round_id, institution_id, values, rounds.today_in(p.settings))
    except AppError as exc:
        if exc.status in (403, 404):
            return _refused(exc)
        return _task_page(round_id, institution_id, exc.message, values, exc.status)
    flash("评分已保存。全部指标评分后请签名确认。", "success")
    return redirect(url_for("expert.evaluation_task", round_id=round_id, institution_id=institution_id), 303)


@expert_bp.post("/evaluation/<int:round_id>/<int:institution_id>/sign")
@requires(Role.expert)
def evaluation_sign(round_id: int, institution_id: int):  # type: ignore[no-untyped-def]
    p = platform()
    try:
        with p.transaction() as session:
            experts.sign(session, g.user, round_id, institution_id, request.form.get("confirm") == "yes",
                         rounds.today_in(p.settings))
    except AppError as exc:
        if exc.status in (403, 404):
            return _refused(exc)
        return _task_page(round_id, institution_id, exc.message, None, exc.status)
    flash("已签名确认，您对该机构的评分已锁定。", "success")
    return redirect(url_for("expert.evaluation_tasks"), 303)


@expert_bp.get("/evaluation/<int:round_id>/<int:institution_id>/attachments/<int:n>")
@requires(Role.expert)
def evaluation_attachment(round_id: int, institution_id: int, n: int):  # type: ignore[no-untyped-def]
    p = platform()
    try:
        with p.transaction(write=False) as session:
            experts.load_assignment(session, g.user, round_id, institution_id)
            meta = attachment(session, round_id, institution_id, n - 1)
    except AppError as exc:
        return _refused(exc)
    data = LocalReportStorage(attachments_dir(p.settings)).get(meta["key"])
    return Response(data, mimetype="application/pdf", headers={
        "Content-Disposition": f"attachment; filename*=UTF-8''{quote(meta['name'])}", "Cache-Control": "no-store"})
