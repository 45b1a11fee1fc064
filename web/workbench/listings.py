"""服务项目: the institution's listings — edit what customers read and pay, take one off the shelf or put it
back. Changes reach search through the index outbox (marked in the same transaction by the service),
and a sync is requested after the commit."""
from __future__ import annotations

from decimal import Decimal

from flask import flash, g, redirect, render_template, request, url_for
from wtforms import Form, StringField, TextAreaField, ValidationError
from wtforms.validators import DataRequired, Length

from core.errors import InvalidInput
from core.models import Role
from core.services.catalog import lab_listings
from core.services.catalog.review import STATUS_LABELS
from core.services.catalog.revisions import describe
from web.index_nudge import request_index_sync
from web.session import LAB_ROLES, platform, requires
from web.workbench.blueprint import workbench_bp



def _price(_form: Form, field: StringField) -> None:
    try:
        lab_listings.parse_price(field.data or "")
    except InvalidInput as exc:
        raise ValidationError(exc.message) from None


def _days(_form: Form, field: StringField) -> None:
    text = (field.data or "").strip()
    if text and not (text.isdigit() and int(text) <= lab_listings.MAX_TURNAROUND_DAYS):
        raise ValidationError(f"检测周期须为 0 到 {lab_listings.MAX_TURNAROUND_DAYS} 之间的整数（天），不填表示面议。")


class ListingForm(Form):
    description = TextAreaField("服务说明", validators=[Length(max=lab_listings.MAX_TEXT, message="服务说明最多 %(max)d 个字。")])
    sample_requirements = TextAreaField("样品要求", validators=[
        Length(max=lab_listings.MAX_TEXT, message="样品要求最多 %(max)d 个字。")])
    price = StringField("价格（元）", validators=[DataRequired(message="请填写价格。"), _price])
    turnaround_days = StringField("检测周期（天）", validators=[_days])
    sample_address = StringField("寄样地址", validators=[
        Length(max=lab_listings.MAX_ADDRESS, message="寄样地址最多 %(max)d 个字。")])


def cents(price: Decimal) -> int:
    return int(price * 100)


@workbench_bp.get("/listings")
@requires(*LAB_ROLES)
def listings():  # type: ignore[no-untyped-def]
    with platform().transaction(write=False) as session:
        rows = []
        for s in lab_listings.listings_of(session, g.user.institution_id):
            revision = lab_listings.pending_revision(session, s.code)
            rows.append({"code": s.code, "name": s.name, "active": s.active, "price_cents": cents(s.price_cny),
                         "unit": s.price_unit or "样", "turnaround_days": s.turnaround_days,
                         "instrument_code": s.instrument.code, "instrument_name": s.instrument.name,
                         "shared": s.instrument.open_for_sharing, "review": s.review_status,
                         "pending": describe(revision.changes) if revision else None})
    return render_template("workbench/listings.html", rows=rows, review_labels=STATUS_LABELS,
                           may_submit=g.user.role == Role.institution_admin)


def _render_edit(code: str, form: ListingForm, status: int = 200):  # type: ignore[no-untyped-def]
    with platform().transaction(write=False) as session:
        service = lab_listings.lab_listing(session, g.user.institution_id, code)
        info = {"code": service.code, "name": service.name, "active": service.active, "unit": service.price_unit or "样",
                "instrument_code": service.instrument.code, "instrument_name": service.instrument.name,
                "sample_types": list(service.sample_types or []), "standards": list(service.standards or [])}
    return render_template("workbench/listings_edit.html", listing=info, form=form), status


@workbench_bp.route("/listings/<code>/edit", methods=["GET", "POST"])
@requires(*LAB_ROLES)
def edit_listing(code: str):  # type: ignore[no-untyped-def]
    if request.method == "GET":
        with platform().transaction(write=False) as session:
            service = lab_listings.lab_listing(session, g.user.institution_id, code)
            form = ListingForm(data={
                "description": service.description or "", "sample_requirements": service.sample_requirements or "",
                "price": f"{service.price_cny:.2f}", "sample_address": lab_listings.sample_address(service.instrument) or "",
                "turnaround_days": "" if service.turnaround_days is None else str(service.turnaround_days)})
        return _render_edit(code, form)
    form = ListingForm(request.form)
    if not form.validate():
        return _render_edit(code, form, 400)
    days = (form.turnaround_days.data or "").strip()
    changes = lab_listings.ListingChanges(
        description=form.description.data, sample_requirements=form.sample_requirements.data,
        price_cny=lab_listings.parse_price(form.price.data or ""), turnaround_days=int(days) if days else None,
        sample_address=form.sample_address.data)
    try:
        with platform().transaction() as session:
            service, changed = lab_listings.update_listing(session, g.user, code, changes)
            name, revision = service.name, lab_listings.pending_revision(session, code)
            waiting = describe(revision.changes) if revision else None
    except InvalidInput as exc:
        field = getattr(form, {"price_cny": "price"}.get(exc.details.get("field", ""), exc.details.get("field", "")), None)
        if field is None:
            raise
        field.errors = [*field.errors, exc.message]
        return _render_edit(code, form, 400)
    if changed and waiting:
        request_index_sync()
        flash(f"已保存“{name}”。以下修改已提交平台审核，通过前用户看到的仍是原内容：{waiting}。", "success")
    elif changed:
        request_index_sync()
        flash(f"已保存“{name}”，搜索结果会在几分钟内更新。", "success")
    else:
        flash(f"“{name}”没有改动。", "success")
    return redirect(url_for("workbench.listings"))


@workbench_bp.post("/listings/<code>/shelf")
@requires(*LAB_ROLES)
def shelve_listing(code: str):  # type: ignore[no-untyped-def]
    active = request.form.get("active") == "1"
    with platform().transaction() as session:
        service, changed = lab_listings.set_listing_active(session, g.user, code, active)
        name = service.name
    if changed:
        request_index_sync()
    state = "已下架，用户搜索不到也不能预约"
    if active:
        with platform().transaction(write=False) as session:
            live = lab_listings.lab_listing(session, g.user.institution_id, code).active
        state = "已上架，用户可以搜索和预约" if live else "重新上架已提交平台审核，通过后用户即可搜索和预约"
    flash(f"“{name}”{state}。" if changed else f"“{name}”本来就{'在架上' if active else '已下架'}。", "success")
    return redirect(url_for("workbench.listings"))
