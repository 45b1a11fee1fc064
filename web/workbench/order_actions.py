"""The lab's steps on one order, posted from its page: the same services as api/lab.py. A refusal (wrong
state, wrong role, a bad file) comes back on the page in Chinese; an order of another lab is a 404."""
from __future__ import annotations

from typing import Any, Callable

from flask import flash, jsonify, redirect, request, url_for

from core.errors import AppError, Conflict, InvalidInput, NotFound
from core.models import User
from core.platform import Platform
from core.report_storage import LocalReportStorage
from core.services.orders import lifecycle, ratings, reports
from core.services.orders.order_rules import MOVES
from web.session import LAB_ROLES, platform, requires
from web.workbench.blueprint import workbench_bp
from web.workbench.orders import actor, render_order

# the step in the address -> (the move in order_rules.MOVES, what the page says when it is done)
STEPS: dict[str, tuple[str, str]] = {
    "accept": ("accept", "已接单，已通知用户送样。"),
    "samples-received": ("receive_samples", "已确认收样。"),
    "start-testing": ("start_testing", "已开始检测。"),
    "no-show": ("no_show", "已登记预约未到，按规则扣费后其余退回用户。"),
}
REASON_MAX, REPLY_MAX = 1000, 2000  # as the JSON API's ReasonBody and ReplyBody


def _back(number: str) -> Any:
    return redirect(url_for("workbench.order", number=number))


def _run(number: str, move: str | None, done: str, work: Callable[[Any, User, Platform], object]) -> Any:
    """One unit of work; a domain refusal is flashed in Chinese (a missing or foreign order stays a 404)."""
    p = platform()
    try:
        with p.transaction() as session:
            work(session, actor(session), p)
    except NotFound:
        raise
    except Conflict as exc:
        # the same form sent twice: the first did the work, the second need not alarm anyone
        if move and exc.details.get("status") == MOVES[move].target.value:
            flash(f"订单已是“{lifecycle.STATUS_LABELS[MOVES[move].target]}”状态，无需重复操作。", "info")
        else:
            flash(exc.message, "error")
    except AppError as exc:
        flash(exc.message, "error")
    else:
        flash(done, "success")
    return _back(number)


@workbench_bp.post("/orders/<number>/step/<step>")
@requires(*LAB_ROLES)
def order_step(number: str, step: str):  # type: ignore[no-untyped-def]
    if step not in STEPS:
        raise NotFound("没有这个订单操作。", code="unknown_action")
    move, done = STEPS[step]
    if move == "accept":
        return _run(number, move, done,
                    lambda s, u, p: lifecycle.accept(s, u, number, None, p.settings.orders.timezone))
    if move == "no_show":
        return _run(number, move, done, lambda s, u, p: lifecycle.no_show(s, u, number, p.settings))
    return _run(number, move, done, lambda s, u, p: lifecycle.lab_step(s, u, number, move))


@workbench_bp.post("/orders/<number>/reject")
@requires(*LAB_ROLES)
def order_reject(number: str):  # type: ignore[no-untyped-def]
    reason = (request.form.get("reason") or "").strip()
    if not reason or len(reason) > REASON_MAX:
        message = "请填写拒单理由，告知用户为什么不能接单。" if not reason else f"拒单理由不能超过 {REASON_MAX} 个字。"
        return render_order(number, errors={"reason": message}, form=request.form, status=400)
    return _run(number, "reject", "已拒单，款项将全额退回用户。",
                lambda s, u, p: lifecycle.reject(s, u, number, reason, p.settings))


@workbench_bp.post("/orders/<number>/rating-reply")
@requires(*LAB_ROLES)
def order_rating_reply(number: str):  # type: ignore[no-untyped-def]
    reply = (request.form.get("reply") or "").strip()
    if not reply or len(reply) > REPLY_MAX:
        message = "请填写回复内容。" if not reply else f"回复不能超过 {REPLY_MAX} 个字。"
        return render_order(number, errors={"reply": message}, form=request.form, status=400)
    return _run(number, None, "已回复评价。", lambda s, u, p: ratings.reply(s, u, number, reply))


def _upload_refused(number: str, exc: AppError, wants_json: bool) -> Any:
    if wants_json:  # upload.js shows the message beside the drop zone
        return jsonify(exc.to_dict()), exc.status
    flash(exc.message, "error")
    return _back(number)


@workbench_bp.post("/orders/<number>/report")
@requires(*LAB_ROLES)
def order_report(number: str):  # type: ignore[no-untyped-def]
    """The report PDF, from upload.js (XMLHttpRequest with progress; answers JSON) or the plain form."""
    wants_json = request.accept_mimetypes.best == "application/json"
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        return _upload_refused(number, InvalidInput("请选择要上传的检测报告（PDF 文件）。", code="file_required"),
                               wants_json)
    p = platform()
    data = upload.stream.read(p.settings.orders.report_max_bytes + 1)  # never more than the limit into memory
    try:
        with p.transaction() as session:
            reports.upload_report(session, actor(session), number, upload.filename, data,
                                  LocalReportStorage(p.settings.reports_dir), p.settings)
    except NotFound:
        raise
    except AppError as exc:
        return _upload_refused(number, exc, wants_json)
    flash("报告已上传，订单进入“报告已出”，已通知用户查看并确认。", "success")
    if wants_json:
        return jsonify({"ok": True, "redirect": url_for("workbench.order", number=number)})
    return _back(number)
