"""入网审核 in the console: what waits for review (institutions, instruments, listings, changes to live
listings), a decision on each (approve, reject with a reason, ask for changes), and the audit log."""
from __future__ import annotations

from typing import Any

from flask import flash, g, redirect, render_template, request, url_for

from core.errors import AppError
from core.models import Institution, Instrument, Service
from core.services.catalog import review, revisions
from core.services.catalog.classification import label
from web.console.blueprint import console_bp
from web.console.form_once import once
from web.index_nudge import request_index_sync
from web.session import ADMIN_ROLES, platform, requires


def _facts(item: review.Reviewable) -> list[tuple[str, str]]:
    """What a reviewer reads before deciding."""
    obj: Any = item.obj
    if isinstance(obj, Institution):
        return [("城市", obj.city or "—"), ("地址", obj.address or "—"), ("联系人", f"{obj.contact_name or '—'} {obj.contact_phone or ''}")]
    if isinstance(obj, Instrument):
        value = f"{obj.value_cny / 10_000:.2f} 万元" if obj.value_cny is not None else "—"
        return [("机构", item.institution.name), ("型号", f"{obj.manufacturer or ''} {obj.model or ''}".strip() or "—"),
                ("分类", label(obj.classification_code) or "—"), ("原值", value), ("主要技术指标", (obj.specs or "—")[:200])]
    assert isinstance(obj, Service)
    return [("机构", item.institution.name), ("仪器", obj.instrument.name), ("价格", f"¥{obj.price_cny:.2f}/{obj.price_unit or '样'}"),
            ("说明", (obj.description or "—")[:200]), ("样品要求", (obj.sample_requirements or "—")[:200])]


@console_bp.get("/reviews")
@requires(*ADMIN_ROLES)
def reviews():  # type: ignore[no-untyped-def]
    with platform().transaction(write=False) as session:
        waiting = [(item, _facts(item)) for item in review.waiting(session)]
        changes = [(r, revisions.describe(r.changes)) for r in revisions.waiting_revisions(session)]
        log = review.recent_decisions(session)
    return render_template("console/reviews.html", waiting=waiting, changes=changes, log=log, kinds=review.KINDS,
                           actions=review.ACTION_LABELS)


@console_bp.post("/reviews/<kind>/<code>")
@requires(*ADMIN_ROLES)
def decide_review(kind: str, code: str):  # type: ignore[no-untyped-def]
    def work() -> Any:
        decision = request.form.get("decision", "")
        try:
            with platform().transaction() as session:
                item = review.decide(session, g.user, kind, code, decision, request.form.get("reason"))
                done = {"approve": "已通过", "reject": "已驳回", "needs_changes": "已退回修改"}[decision]
                flash(f"{review.KINDS[kind]}“{item.name}”{done}，已通知提交单位。", "success")
        except AppError as exc:
            flash(exc.message, "error")
            return redirect(url_for("console.reviews"), 303)
        request_index_sync()
        return redirect(url_for("console.reviews"), 303)
    return once(work)


@console_bp.post("/reviews/revisions/<int:revision_id>")
@requires(*ADMIN_ROLES)
def decide_revision(revision_id: int):  # type: ignore[no-untyped-def]
    def work() -> Any:
        approve = request.form.get("decision") == "approve"
        try:
            with platform().transaction() as session:
                revision = revisions.decide_revision(session, g.user, revision_id, approve, request.form.get("reason"))
                flash(f"检测服务 {revision.object_code} 的修改{'已通过并生效' if approve else '已驳回'}。", "success")
        except AppError as exc:
            flash(exc.message, "error")
            return redirect(url_for("console.reviews"), 303)
        request_index_sync()
        return redirect(url_for("console.reviews"), 303)
    return once(work)
