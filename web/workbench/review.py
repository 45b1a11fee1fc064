"""Sending drafts to the platform for review (入网审核) from the workbench: the institution's admin
submits an institution, instrument or listing that is a draft or was sent back for changes."""
from __future__ import annotations

from flask import flash, g, redirect, request, url_for

from core.errors import AppError
from core.models import Role
from core.services.catalog import review
from web.session import platform, requires
from web.workbench.blueprint import workbench_bp

BACK = {"service": "workbench.listings", "instrument": "workbench.instruments", "institution": "workbench.today"}


@workbench_bp.post("/review/submit")
@requires(Role.institution_admin)
def submit_for_review():  # type: ignore[no-untyped-def]
    kind, code = request.form.get("kind", ""), request.form.get("code", "")
    if kind not in review.KINDS:
        flash("无法识别要提交的对象。", "error")
        return redirect(url_for("workbench.today"), 303)
    try:
        with platform().transaction() as session:
            item = review.submit(session, g.user, kind, code)
            flash(f"已提交{review.KINDS[kind]}“{item.name}”的入网审核，平台审核后会通知您。", "success")
    except AppError as exc:
        flash(exc.message, "error")
    return redirect(url_for(BACK[kind]), 303)
