"""What the console's and the workbench's idle-report pages share: the charts of one report, the
page context, and the report as a downloaded file."""
from __future__ import annotations

from typing import Any

from flask import Response, abort, g, request
from sqlalchemy.orm import Session

from core.models import IdleReport
from core.services.data.idle_report import FLAG_LABELS, IDLE_FLAGS, SENSOR_LABELS
from core.services.data.idle_reports import MEDIA_TYPES, report_file, reports, view_of

BAR = 40
MEDIA = MEDIA_TYPES


def _wan(cny: float) -> float:
    return round(cny / 10_000, 2)


def city_option(view: dict[str, Any]) -> dict[str, Any] | None:
    cities = [c for c in view["totals"]["by_city"] if c["idle"]]
    if not cities:
        return None
    return {
        "tooltip": {"trigger": "axis", "axisPointer": {"type": "shadow"}},
        "grid": {"left": 8, "right": 16, "top": 32, "bottom": 8, "containLabel": True},
        "xAxis": {"type": "category", "data": [c["city"] or "未填城市" for c in cities]},
        "yAxis": {"type": "value", "name": "万元"},
        "series": [{"name": "闲置原值（万元）", "type": "bar", "barMaxWidth": BAR, "data": [_wan(c["idle_value_cny"]) for c in cities],
                    "label": {"show": True, "position": "top"}}],
    }


def ranking_option(view: dict[str, Any]) -> dict[str, Any] | None:
    ranked = [i for i in view["totals"]["by_institution"] if i["idle"]][:15]
    if not ranked:
        return None
    shown = list(reversed(ranked))  # a category axis runs bottom-up: the first place goes on top
    return {
        "tooltip": {"trigger": "axis", "axisPointer": {"type": "shadow"}},
        "grid": {"left": 8, "right": 40, "top": 32, "bottom": 8, "containLabel": True},
        "xAxis": {"type": "value", "name": "万元"},
        "yAxis": {"type": "category", "data": [i["name"] for i in shown], "axisLabel": {"width": 150, "overflow": "truncate"}},
        "series": [{"name": "闲置原值（万元）", "type": "bar", "barMaxWidth": BAR, "data": [_wan(i["idle_value_cny"]) for i in shown],
                    "label": {"show": True, "position": "right", "formatter": "{c}"}}],
    }


def page_context(view: dict[str, Any] | None) -> dict[str, Any]:
    """What both the console's and the workbench's report pages show of one report."""
    return {"view": view, "flag_labels": FLAG_LABELS, "idle_flags": IDLE_FLAGS, "sensor_labels": SENSOR_LABELS,
            "charts": {"cities": city_option(view), "ranking": ranking_option(view)} if view else {}}


def file_response(report: IdleReport, view: dict[str, Any], kind: str, tz: str) -> Response:
    name = f"idle-report-{report.period_from}-{report.period_to}-v{report.version}.{kind}"
    return Response(report_file(report, view, kind, tz), mimetype=MEDIA[kind],
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})


def chosen_report(session: Session) -> tuple[list[IdleReport], IdleReport | None, dict[str, Any] | None]:
    """The stored reports, the one asked for (?report=ID, else the latest; 404 if unknown) and the
    signed-in user's view of it."""
    stored = reports(session)
    chosen = stored[0] if stored else None
    wanted = request.args.get("report", type=int)
    if wanted is not None:
        chosen = session.get(IdleReport, wanted)
        if chosen is None:
            abort(404)
    return stored, chosen, view_of(session, g.user, chosen) if chosen else None


def download(session: Session, report_id: int, kind: str, tz: str) -> Response:
    """A report as XLSX or PDF, as much of it as the signed-in user may read."""
    report = session.get(IdleReport, report_id)
    if kind not in MEDIA or report is None:
        abort(404)
    return file_response(report, view_of(session, g.user, report), kind, tz)
