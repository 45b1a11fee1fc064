"""订单: the institution's orders (filters, search, pages) and one order's page with its timeline and next steps.
The steps themselves are posted to order_actions.py."""
from __future__ import annotations

from datetime import date
from typing import Any, Mapping

from flask import g, render_template, request

from core.models import OrderStatus, User
from core.services.orders import reports
from core.services.orders.lab_orders import (
    OrderFilters, lab_instruments, lab_order, search_lab_orders, status_label,
)
from core.services.orders.lifecycle import STATUS_LABELS
from core.services.orders.todo import TODO_BY_KEY
from web.session import LAB_ROLES, platform, requires
from web.workbench.blueprint import workbench_bp

PER_PAGE = 20
# bootstrap colours of the status badge: what needs the lab stands out, what is over is grey
STATUS_COLOURS = {
    OrderStatus.paid: "warning", OrderStatus.accepted: "info", OrderStatus.samples_received: "info",
    OrderStatus.testing: "primary", OrderStatus.report_issued: "success", OrderStatus.confirmed: "success",
    OrderStatus.settled: "success", OrderStatus.disputed: "danger",
}
MODE_LABELS = {"visit": "到实验室检测", "mail": "寄送样品"}


@workbench_bp.app_template_filter("order_status_label")
def order_status_label(status: OrderStatus | str | None) -> str:
    return status_label(status)


@workbench_bp.app_template_filter("order_status_colour")
def order_status_colour(status: OrderStatus | str | None) -> str:
    try:
        return STATUS_COLOURS.get(OrderStatus(status), "secondary") if status else "secondary"
    except ValueError:
        return "secondary"


def _date(text: str) -> date | None:
    try:
        return date.fromisoformat(text)
    except ValueError:
        return None


def parse_filters(args: Mapping[str, str],
                  instruments: list[tuple[int, str, str]]) -> tuple[OrderFilters, dict[str, str]]:
    """The list's filters from the query string; a bad value is left out and said next to its field."""
    errors: dict[str, str] = {}
    status = None
    if args.get("status"):
        try:
            status = OrderStatus(args["status"])
        except ValueError:
            errors["status"] = "没有这个订单状态，请从列表中选择。"
    instrument_id = None
    if args.get("instrument"):
        known = {str(i): i for i, _, _ in instruments}
        if args["instrument"] in known:
            instrument_id = known[args["instrument"]]
        else:
            errors["instrument"] = "本机构没有这台仪器，请从列表中选择。"
    dates: dict[str, date | None] = {}
    for name in ("date_from", "date_to"):
        dates[name] = _date(args.get(name, "")) if args.get(name) else None
        if args.get(name) and dates[name] is None:
            errors[name] = "日期格式应为 2026-01-31。"
    if dates["date_from"] and dates["date_to"] and dates["date_from"] > dates["date_to"]:
        errors["date_to"] = "结束日期不能早于开始日期。"
        dates["date_to"] = None
    todo = args.get("todo") or None
    if todo and todo not in TODO_BY_KEY:
        errors["todo"] = "没有这个待办分类。"
        todo = None
    query = (args.get("q") or "").strip()[:100]
    return OrderFilters(status, instrument_id, dates["date_from"], dates["date_to"], query, todo), errors


def _page_number(text: str | None) -> int:
    return int(text) if text and text.isdigit() and 0 < int(text) < 100_000 else 1


@workbench_bp.get("/orders")
@requires(*LAB_ROLES)
def orders():  # type: ignore[no-untyped-def]
    timezone = platform().settings.orders.timezone
    with platform().transaction(write=False) as session:
        instruments = lab_instruments(session, g.user.institution_id)
        filters, errors = parse_filters(request.args, instruments)
        page = search_lab_orders(session, g.user.institution_id, filters, timezone,
                                 _page_number(request.args.get("page")), PER_PAGE)
    # the pager's links keep every filter but the page
    kept = {k: v for k, v in request.args.items() if k != "page" and v}
    return render_template("workbench/orders.html", page=page, filters=filters, errors=errors, args=request.args,
                           kept=kept, instruments=instruments, statuses=STATUS_LABELS, modes=MODE_LABELS,
                           todo=TODO_BY_KEY.get(filters.todo or "")), 400 if errors else 200


def actor(session: Any) -> User:
    """The signed-in user, attached to this unit of work (services write events and notifications with it)."""
    return session.get(User, g.user.id)


def render_order(number: str, errors: dict[str, str] | None = None, form: Mapping[str, str] | None = None,
                 status: int = 200) -> tuple[str, int]:
    """One order's page; a form that failed its checks comes back with its error and the text typed."""
    p = platform()
    with p.transaction(write=False) as session:
        view = lab_order(session, actor(session), number, p.settings.orders.timezone)
        download = None
        if view.report is not None:
            token = reports.download_token(p.settings, view.report, g.user)
            download = f"/api/v1/reports/download?token={token}"  # the JSON API's link: the token is the credential
    return render_template("workbench/order.html", view=view, order=view.order, errors=errors or {},
                           form=form or {}, download=download, modes=MODE_LABELS,
                           report_max_bytes=p.settings.orders.report_max_bytes), status


@workbench_bp.get("/orders/<number>")
@requires(*LAB_ROLES)
def order(number: str):  # type: ignore[no-untyped-def]
    return render_order(number)
