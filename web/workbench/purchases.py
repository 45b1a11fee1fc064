"""新购查重: the institution's requests to buy a large instrument — the list, the filing with three
quotations (institution admins), and each request's result: the similar instruments of the region with
their use, the draft opinion with its reasons, the split-purchase flag and the experts' conclusion.
Lab staff see their institution's requests; only its admin files one."""
from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import quote

from flask import Response, abort, current_app, flash, g, redirect, render_template, request, url_for

from core.errors import AppError, InvalidInput
from core.models import Institution, PurchaseRequest, Role
from core.models._types import MAX_ROW_ID, utcnow
from core.services.catalog.classification import MIDDLE, label
from core.services.data.purchase_check import (
    CONCLUSIONS, MATCHED, OPINIONS, QUOTATION_MAX_BYTES, QUOTATIONS, STATUSES, precompute, quotation_file, requests_for,
    submit_request, viewable_request,
)
from core.services.data.purchase_similar import PurchaseFields
from core.services.people.company_documents import Upload
from web.session import LAB_ROLES, platform, requires
from web.workbench.blueprint import workbench_bp

FIELDS = ("name", "classification", "model", "specs", "purpose", "price", "expected_hours", "city")
MAX_PRICE = Decimal("100000000")  # 1 亿元: beyond is a typo, as in the JSON API


def labels() -> dict[str, Any]:
    """What the purchase pages of every area show for the stored slugs."""
    return {"opinions": OPINIONS, "conclusions": CONCLUSIONS, "statuses": STATUSES, "class_label": label,
            "matched": MATCHED}


def requester(session: Any, found: PurchaseRequest) -> Institution | None:
    return session.get(Institution, found.institution_id) if found.institution_id else None


def request_id_arg() -> int | None:
    """?id= of a request; a malformed one names no request (404)."""
    raw = request.args.get("id")
    if raw is None:
        return None
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_ROW_ID:
        abort(404)
    return int(raw)


def quotation_download(request_id: int) -> Response | None:
    """?quotation=n beside ?id=: that quotation's PDF, for whoever may see the request."""
    raw = request.args.get("quotation")
    if raw is None:
        return None
    if not raw.isdigit() or len(raw) > 2:
        abort(404)
    with platform().transaction(write=False) as session:
        name, data = quotation_file(session, g.user, request_id, int(raw), platform().settings)
    return Response(data, content_type="application/pdf",
                    headers={"Content-Disposition": f"attachment; filename*=UTF-8''{quote(name)}"})


@workbench_bp.get("/purchases")
@requires(*LAB_ROLES)
def purchases():  # type: ignore[no-untyped-def]
    request_id = request_id_arg()
    if request_id is not None:
        return quotation_download(request_id) or _detail(request_id)
    with platform().transaction(write=False) as session:
        rows = requests_for(session, g.user)
        return render_template("workbench/purchases.html", rows=rows, can_submit=g.user.role == Role.institution_admin,
                               **labels())


def _detail(request_id: int) -> Any:
    with platform().transaction(write=False) as session:
        found = viewable_request(session, g.user, request_id)
        return render_template("workbench/purchases_detail.html", found=found, institution=requester(session, found),
                               quotation_url=lambda n: url_for("workbench.purchases", id=request_id, quotation=n),
                               **labels())


def _form_page(form: dict[str, str], error: str | None = None, status: int = 200) -> Any:
    with platform().transaction(write=False) as session:
        own = session.get(Institution, g.user.institution_id) if g.user.institution_id else None
        city = own.city if own else ""
    form = {"city": city or "", **{k: v for k, v in form.items() if v}}
    classes = [(code, label(code)) for code in MIDDLE]
    return render_template("workbench/purchases_new.html", form=form, error=error, classes=classes,
                           can_submit=g.user.role == Role.institution_admin, quotations=QUOTATIONS,
                           max_mb=QUOTATION_MAX_BYTES // (1024 * 1024),
                           threshold=platform().settings.data.purchase_check_min_cny), status


@workbench_bp.get("/purchases/new")
@requires(*LAB_ROLES)
def purchase_form():  # type: ignore[no-untyped-def]
    return _form_page({})


def _price_fen(text: str) -> int:
    try:
        price = Decimal(text.strip().replace(",", "").replace("，", "").removeprefix("¥"))
    except InvalidOperation:
        raise InvalidInput("拟购价格须为数字（元），如 1350000 或 1350000.50。", code="invalid_price") from None
    if not price.is_finite() or price <= 0 or price > MAX_PRICE:
        raise InvalidInput("拟购价格须大于 0 且不超过 1 亿元。", code="invalid_price")
    if price.as_tuple().exponent < -2:  # type: ignore[operator]
        raise InvalidInput("拟购价格最多保留两位小数（分）。", code="invalid_price")
    return int(price * 100)


def _hours(text: str) -> float | None:
    if not text.strip():
        return None
    try:
        hours = float(Decimal(text.strip()))
    except (InvalidOperation, ValueError):
        raise InvalidInput("预计年使用机时须为数字（小时）。", code="invalid_expected_hours") from None
    return hours  # the range is the service's rule


def _uploads() -> list[Upload]:
    found = []
    for n in range(1, QUOTATIONS + 1):
        upload = request.files.get(f"quotation{n}")
        if upload is not None and upload.filename:
            # never more than the limit into memory: one byte past it is enough to refuse
            found.append(Upload(upload.filename, upload.stream.read(QUOTATION_MAX_BYTES + 1)))
    return found


@workbench_bp.post("/purchases")
@requires(Role.institution_admin)
def submit_purchase():  # type: ignore[no-untyped-def]
    form = {k: (request.form.get(k) or "").strip()[:5000] for k in FIELDS}
    p, now = platform(), utcnow()
    encoder = current_app.extensions["search"].encoder
    try:
        fields = PurchaseFields(name=form["name"], classification=form["classification"],
                                price_fen=_price_fen(form["price"]), city=form["city"], model=form["model"] or None,
                                specs=form["specs"] or None, purpose=form["purpose"] or None,
                                expected_hours=_hours(form["expected_hours"]))
        uploads = _uploads()
        with p.transaction(write=False) as session:
            precompute(session, g.user, encoder, fields, p.settings, now)
        with p.transaction() as session:
            found = submit_request(session, g.user, fields, uploads, encoder, p.settings, now)
            request_id, opinion = found.id, OPINIONS[found.draft_opinion]
    except AppError as exc:
        if exc.status in (401, 403, 503):
            raise
        return _form_page(form, exc.message, exc.status)
    flash(f"已提交第 {request_id} 号新购查重申请，初步意见：{opinion}。", "success")
    return redirect(url_for("workbench.purchases", id=request_id))
