"""新购查重评议 for experts: the requests awaiting a conclusion (not their own institution's: 利益回避), each
with its evidence and quotations, and the conclusion with its reasoning."""
from __future__ import annotations

from typing import Any
from urllib.parse import quote

from flask import Response, flash, g, redirect, render_template, request, url_for

from core.errors import AppError, NotFound
from core.models import Role
from core.models._types import utcnow
from core.services.data.purchase_check import (
    COMMENT_MAX, CONCLUSIONS, awaiting_conclusion, awaiting_count, conclude, quotation_file, viewable_request,
)
from web.expert.blueprint import NAV, expert_bp
from web.expert.home import WAITING
from web.session import platform, requires
from web.workbench.purchases import labels, requester

NAV.append(("新购查重", "/expert/purchases"))
WAITING.append(("待评议的新购查重申请", "/expert/purchases", awaiting_count))


def _refused(exc: AppError) -> Any:
    """The Chinese error page, rendered here: web/pages.py does not count /expert among the back office's
    paths yet, so the app's handler would answer a missing request in JSON."""
    title = {403: "没有权限", 404: "页面不存在"}.get(exc.status, "出错了")
    return render_template("error.html", status=exc.status, title=title, message=exc.message, code=exc.code), exc.status


@expert_bp.get("/purchases")
@requires(Role.expert)
def purchases():  # type: ignore[no-untyped-def]
    with platform().transaction(write=False) as session:
        rows = [(r, requester(session, r)) for r in awaiting_conclusion(session, g.user)]
        return render_template("expert/purchases.html", rows=rows, **labels())


def _page(request_id: int, form: dict[str, str] | None = None, error: str | None = None, status: int = 200) -> Any:
    with platform().transaction(write=False) as session:
        found = viewable_request(session, g.user, request_id)
        conflicted = g.user.institution_id is not None and found.institution_id == g.user.institution_id
        return render_template(
            "expert/purchases_detail.html", found=found, institution=requester(session, found), conflicted=conflicted,
            form=form or {}, error=error, choices=CONCLUSIONS, comment_max=COMMENT_MAX,
            quotation_url=lambda n: url_for("expert.purchase_quotation", request_id=request_id, index=n),
            **labels()), status


@expert_bp.get("/purchases/<int:request_id>")
@requires(Role.expert)
def purchase(request_id: int):  # type: ignore[no-untyped-def]
    try:
        return _page(request_id)
    except NotFound as exc:
        return _refused(exc)


@expert_bp.post("/purchases/<int:request_id>/conclude")
@requires(Role.expert)
def conclude_purchase(request_id: int):  # type: ignore[no-untyped-def]
    form = {"conclusion": (request.form.get("conclusion") or "")[:16],
            "comment": (request.form.get("comment") or "")[:COMMENT_MAX + 1]}
    try:
        with platform().transaction() as session:
            found = conclude(session, g.user, request_id, form["conclusion"], form["comment"], utcnow())
            said = CONCLUSIONS[found.conclusion or ""]
    except NotFound as exc:
        return _refused(exc)
    except AppError as exc:  # the page again, with what was typed and why it was refused (403 for 回避)
        return _page(request_id, form, exc.message, exc.status)
    flash(f"已给出第 {request_id} 号申请的评议结论：{said}。", "success")
    return redirect(url_for("expert.purchase", request_id=request_id))


@expert_bp.get("/purchases/<int:request_id>/quotations/<int:index>")
@requires(Role.expert)
def purchase_quotation(request_id: int, index: int):  # type: ignore[no-untyped-def]
    try:
        with platform().transaction(write=False) as session:
            name, data = quotation_file(session, g.user, request_id, index, platform().settings)
    except NotFound as exc:
        return _refused(exc)
    return Response(data, content_type="application/pdf",
                    headers={"Content-Disposition": f"attachment; filename*=UTF-8''{quote(name)}"})
