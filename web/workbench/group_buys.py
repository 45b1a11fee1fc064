"""团购: open a group-buy on one of the lab's services, follow each campaign's progress, close one early.
Opening calls group_buy.open_campaign as the lab API does; closing runs the deadline's own close."""
from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from flask import flash, g, redirect, render_template, request, url_for

from core.errors import AppError, InvalidInput
from core.models._types import utcnow
from core.services.catalog import lab_listings
from core.services.orders import group_buy, lab_group_buys
from web.pages import local_time
from web.session import LAB_ROLES, platform, requires
from web.workbench.blueprint import workbench_bp

FIELDS = ("service_code", "min_samples", "max_samples", "group_price", "deadline", "run_date")
# where a refusal of the service belongs on the form
_ERROR_FIELDS = {"invalid_campaign_size": "max_samples", "invalid_price": "group_price", "invalid_dates": "deadline",
                 "service_not_found": "service_code"}
MAX_SAMPLES = 100_000


def _zone() -> ZoneInfo:
    return ZoneInfo(platform().settings.orders.timezone)


def _render(values: dict[str, str] | None = None, errors: dict[str, str] | None = None, status: int = 200):  # type: ignore[no-untyped-def]
    with platform().transaction(write=False) as session:
        services = [{"code": s.code, "name": s.name, "price_cents": int(s.price_cny * 100), "unit": s.price_unit or "样"}
                    for s in lab_listings.listings_of(session, g.user.institution_id) if s.active]
        campaigns = lab_group_buys.campaigns_of(session, g.user.institution_id)
        for c in campaigns:
            session.expunge(c.progress.campaign)
            session.expunge(c.progress.service)
    if values is None:  # a fresh form: a week to gather samples, the run two days after
        deadline = (utcnow().astimezone(_zone()) + timedelta(days=7)).replace(hour=18, minute=0, second=0, microsecond=0)
        values = {"min_samples": "5", "max_samples": "20", "deadline": deadline.strftime("%Y-%m-%dT%H:%M"),
                  "run_date": (deadline.date() + timedelta(days=2)).isoformat()}
    return render_template("workbench/group_buys.html", services=services, campaigns=campaigns,
                           values=values, errors=errors or {}), status


@workbench_bp.get("/group-buys")
@requires(*LAB_ROLES)
def group_buys():  # type: ignore[no-untyped-def]
    return _render()


def _count(text: str, label: str) -> int:
    if not text.isdigit() or not 1 <= int(text) <= MAX_SAMPLES:
        raise ValueError(f"{label}须为 1 到 {MAX_SAMPLES} 之间的整数。")
    return int(text)


def _parse(values: dict[str, str]) -> tuple[dict[str, Any], dict[str, str]]:
    """The form's values as open_campaign takes them, and a Chinese error for each field that is wrong."""
    parsed: dict[str, Any] = {}
    errors: dict[str, str] = {}
    checks = {
        "service_code": lambda v: v if v else _fail("请选择检测服务。"),
        "min_samples": lambda v: _count(v, "成团样品数"),
        "max_samples": lambda v: _count(v, "最多样品数"),
        "group_price": lambda v: lab_listings.parse_price(v) if v else _fail("请填写团购价。"),
        "deadline": lambda v: _local_moment(v),
        "run_date": lambda v: _day(v),
    }
    for name, check in checks.items():
        try:
            parsed[name] = check(values[name])
        except ValueError as exc:
            errors[name] = str(exc)
        except InvalidInput as exc:
            errors[name] = exc.message.replace("价格", "团购价")
    if not errors and parsed["min_samples"] > parsed["max_samples"]:
        errors["max_samples"] = "最多样品数不能少于成团样品数。"
    return parsed, errors


def _fail(message: str) -> Any:
    raise ValueError(message)


def _local_moment(text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError("请填写截止时间，如 2026-05-20 18:00。") from None
    if not 2000 <= moment.year <= 2100:
        raise ValueError("截止时间的年份不对，请检查。")
    return moment.replace(tzinfo=_zone()) if moment.tzinfo is None else moment


def _day(text: str) -> date:
    try:
        day = date.fromisoformat(text)
    except ValueError:
        raise ValueError("请填写统一检测日，如 2026-05-22。") from None
    if not 2000 <= day.year <= 2100:
        raise ValueError("统一检测日的年份不对，请检查。")
    return day


@workbench_bp.post("/group-buys")
@requires(*LAB_ROLES)
def open_group_buy():  # type: ignore[no-untyped-def]
    values = {name: (request.form.get(name) or "").strip()[:100] for name in FIELDS}
    parsed, errors = _parse(values)
    if errors:
        return _render(values, errors, 400)
    price_cents, name = int(parsed["group_price"] * 100), None
    try:
        with platform().transaction() as session:
            same = lab_group_buys.same_open_campaign(
                session, parsed["service_code"], min_samples=parsed["min_samples"], max_samples=parsed["max_samples"],
                group_price_cents=price_cents, deadline=parsed["deadline"], run_date=parsed["run_date"])
            if same is None:  # a form sent twice opens one campaign
                campaign = group_buy.open_campaign(
                    session, g.user, parsed["service_code"], min_samples=parsed["min_samples"],
                    max_samples=parsed["max_samples"], group_price_cny=float(parsed["group_price"]),
                    deadline=parsed["deadline"], run_date=parsed["run_date"])
                name = group_buy.progress(session, campaign.id).service.name
    except AppError as exc:
        field = _ERROR_FIELDS.get(exc.code)
        if field is None:
            raise
        return _render(values, {field: exc.message}, 400 if exc.status < 500 else exc.status)
    if name is None:
        flash("同样的团购已经开启，没有重复开启。", "success")
    else:
        flash(f"已开启“{name}”团购，截止 {local_time(parsed['deadline'])}，用户可在小程序中参团。", "success")
    return redirect(url_for("workbench.group_buys"))


@workbench_bp.post("/group-buys/<int:campaign_id>/close")
@requires(*LAB_ROLES)
def close_group_buy(campaign_id: int):  # type: ignore[no-untyped-def]
    with platform().transaction() as session:
        status, closed = lab_group_buys.close_now(session, g.user, campaign_id, platform().settings)
    label = lab_group_buys.STATUS_LABELS.get(status, status)
    if not closed:
        flash(f"团购 #{campaign_id} 已经结束（{label}），无需再次截止。", "success")
    elif status == "confirmed":
        flash(f"团购 #{campaign_id} 已截止并成团，参团订单已转为已接单，客户已收到统一检测日通知。", "success")
    else:
        flash(f"团购 #{campaign_id} 已截止，未达到成团样品数，已付款的订单全额退款。", "success")
    return redirect(url_for("workbench.group_buys"))
