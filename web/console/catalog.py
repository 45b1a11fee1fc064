"""目录: every institution, instrument and listing in any state, with the switches that take them in
and out of search. The switches are the CLI's services (catalog activate/deactivate/institution-status);
their changes reach the index through the index outbox, which a worker is asked to apply."""
from __future__ import annotations

import logging
from typing import Any, Callable
from urllib.parse import urlencode

import redis
from flask import flash, g, redirect, render_template, request, url_for

from core.errors import AppError
from core.models import OnboardingStatus
from core.queue import enqueue_index_sync
from core.services.catalog.admin import set_institution_status, set_service_active
from core.services.catalog.browse import (
    INSTITUTION_STATUSES, INSTRUMENT_STATUSES, SERVICE_STATUSES, CatalogFilter, browse_institutions,
    browse_instruments, browse_services, catalog_facets,
)
from core.services.catalog.admin import set_instrument_shared
from web.console.blueprint import console_bp
from web.console.form_once import once
from web.session import ADMIN_ROLES, platform, requires

log = logging.getLogger(__name__)

VIEWS = {"services": "服务项目", "instruments": "仪器", "institutions": "机构"}
STATUS_LABELS = {
    "institutions": {"pending": "待审核", "approved": "已通过", "suspended": "已暂停"},
    "instruments": {"shared": "共享中", "not_shared": "已停止共享"},
    "services": {"active": "上架", "inactive": "已下架"},
}
_STATUSES = {"institutions": INSTITUTION_STATUSES, "instruments": INSTRUMENT_STATUSES, "services": SERVICE_STATUSES}
_BROWSE = {"services": browse_services, "instruments": browse_instruments, "institutions": browse_institutions}
FILTER_KEYS = ("view", "city", "institution", "status", "q", "page")


def _filters(args: Any) -> tuple[str, CatalogFilter, dict[str, str]]:
    view = args.get("view") if args.get("view") in VIEWS else "services"
    raw = {k: (args.get(k) or "").strip()[:100] for k in FILTER_KEYS}
    raw["view"] = view
    status = raw["status"] if raw["status"] in _STATUSES[view] else ""
    raw["status"] = status
    page = int(raw["page"]) if raw["page"].isdigit() and 0 < len(raw["page"]) < 7 else 1
    f = CatalogFilter(city=raw["city"] or None, institution=raw["institution"] or None, status=status or None,
                      text=raw["q"] or None, page=page)
    return view, f, raw


@console_bp.get("/catalog")
@requires(*ADMIN_ROLES)
def catalog():  # type: ignore[no-untyped-def]
    view, f, raw = _filters(request.args)
    with platform().transaction(write=False) as session:
        results = _BROWSE[view](session, f)
        facets = catalog_facets(session)

    def page_url(page: int) -> str:
        return url_for("console.catalog", **{k: v for k, v in raw.items() if v and k != "page"}, page=page)

    back = url_for("console.catalog") + "?" + urlencode({k: v for k, v in raw.items() if v})
    return render_template("console/catalog.html", view=view, views=VIEWS, results=results, facets=facets,
                           filters=raw, statuses=STATUS_LABELS[view], status_labels=STATUS_LABELS,
                           page_url=page_url, back=back)


def _back() -> str:
    # only a page of this list: a crafted field must not send the admin elsewhere
    target = request.form.get("back", "")
    return target if target.startswith("/console/catalog") and "//" not in target else url_for("console.catalog")


def _change(work: Callable[[Any], str]) -> Any:
    """Run one catalog switch in a transaction; then ask a worker to bring the index up to date."""
    def action() -> Any:
        try:
            with platform().transaction() as session:
                message = work(session)
        except AppError as exc:
            flash(exc.message, "error")
            return redirect(_back(), 303)
        try:
            enqueue_index_sync(platform().redis)
            flash(message + "搜索索引将在后台更新。", "success")
        except redis.RedisError as exc:  # the change is in the outbox: the next sync or rebuild takes it
            log.warning("index sync not queued: %s", exc)
            flash(message + "后台任务暂不可用，搜索索引会在下次同步时更新。", "success")
        return redirect(_back(), 303)
    return once(action)


def _flag(name: str) -> bool | None:
    value = request.form.get(name)
    return {"1": True, "0": False}.get(value or "")


@console_bp.post("/catalog/services/<code>/active")
@requires(*ADMIN_ROLES)
def service_active(code: str):  # type: ignore[no-untyped-def]
    active = _flag("active")
    if active is None:
        flash("请选择上架或下架。", "error")
        return redirect(_back(), 303)

    def work(session: Any) -> str:
        service = set_service_active(session, g.user, code, active)
        return f"已{'上架' if active else '下架'}服务项目「{service.name}」。"
    return _change(work)


@console_bp.post("/catalog/instruments/<code>/shared")
@requires(*ADMIN_ROLES)
def instrument_shared(code: str):  # type: ignore[no-untyped-def]
    shared = _flag("shared")
    if shared is None:
        flash("请选择恢复共享或停止共享。", "error")
        return redirect(_back(), 303)

    def work(session: Any) -> str:
        instrument = set_instrument_shared(session, g.user, code, shared)
        return f"仪器「{instrument.name}」已{'恢复共享' if shared else '停止共享，其服务项目不再出现在搜索中'}。"
    return _change(work)


@console_bp.post("/catalog/institutions/<code>/status")
@requires(*ADMIN_ROLES)
def institution_status(code: str):  # type: ignore[no-untyped-def]
    status = request.form.get("status", "")
    if status not in INSTITUTION_STATUSES:
        flash("请选择机构状态：待审核、已通过或已暂停。", "error")
        return redirect(_back(), 303)

    def work(session: Any) -> str:
        institution = set_institution_status(session, g.user, code, OnboardingStatus(status))
        return f"机构「{institution.name}」的状态已改为{STATUS_LABELS['institutions'][status]}。"
    return _change(work)
