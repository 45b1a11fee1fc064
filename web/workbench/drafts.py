"""New instruments and listings as drafts (入网审核): the institution's admin writes them here, then
submits them from the instruments or listings page."""
from __future__ import annotations

from typing import Any

from flask import flash, g, redirect, render_template, request, url_for
from sqlalchemy import select

from core.errors import AppError
from core.models import Instrument, Role
from core.services.catalog import drafts
from core.services.catalog.classification import MIDDLE
from web.session import LAB_ROLES, platform, requires
from web.workbench.blueprint import workbench_bp


def _instruments() -> list[Instrument]:
    with platform().transaction(write=False) as session:
        found = list(session.scalars(select(Instrument).where(Instrument.institution_id == g.user.institution_id)
                                     .order_by(Instrument.code)))
        for i in found:
            session.expunge(i)
        return found


def _page(kind: str, form: dict[str, Any], error: str | None = None):  # type: ignore[no-untyped-def]
    return render_template("workbench/draft_new.html", kind=kind, form=form, error=error, instruments=_instruments(),
                           classes=MIDDLE, may_create=g.user.role == Role.institution_admin), 400 if error else 200


@workbench_bp.get("/drafts/new")
@requires(*LAB_ROLES)
def new_draft_form():  # type: ignore[no-untyped-def]
    return _page(request.args.get("kind", "service"), {})


@workbench_bp.post("/drafts/new")
@requires(Role.institution_admin)
def new_draft():  # type: ignore[no-untyped-def]
    kind = request.form.get("kind", "service")
    form: dict[str, Any] = request.form.to_dict()
    try:
        with platform().transaction() as session:
            if kind == "instrument":
                made: Any = drafts.create_instrument(session, g.user, drafts.InstrumentDraft(**{
                    k: form.get(k, "") for k in drafts.InstrumentDraft.__dataclass_fields__}))
                back = "workbench.instruments"
            else:
                made = drafts.create_listing(session, g.user, drafts.ListingDraft(**{
                    k: form.get(k, "") for k in drafts.ListingDraft.__dataclass_fields__}))
                back = "workbench.listings"
            flash(f"已保存草稿“{made.name}”（{made.code}）。检查无误后点“提交审核”，平台审核通过后用户才能看到。", "success")
    except AppError as exc:
        return _page(kind, form, exc.message)
    return redirect(url_for(back), 303)
