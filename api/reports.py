"""The management-by-data reports (DESIGN.md): the idle-instrument report for platform admins (the
whole) and for an institution's people (their own part)."""
from __future__ import annotations

from typing import Any, Literal

from flask import Blueprint, Response, jsonify, request
from pydantic import BaseModel, ConfigDict, Field

from api.auth import signed_in_user
from api.openapi import documented
from api.order_schemas import Strict
from api.order_views import platform
from api.validation import parse_json_body, parse_query
from core.errors import NotFound
from core.models import Role
from core.services.data import idle_report, idle_reports
from core.services.people.authz import require_role

reports_bp = Blueprint("reports", __name__, url_prefix="/api/v1/admin/reports")

MONTH = r"^\d{4}-(0[1-9]|1[0-2])$"  # YYYY-MM in PLATFORM_TIMEZONE
MEDIA = idle_reports.MEDIA_TYPES


class IdleQuery(Strict):
    start: str = Field(alias="from", pattern=MONTH)
    end: str = Field(alias="to", pattern=MONTH)
    version: int | None = Field(default=None, strict=False, ge=1, le=10_000)
    format: Literal["json", "xlsx", "pdf"] = "json"


class IdleGenerate(Strict):
    start: str = Field(alias="from", pattern=MONTH)
    end: str = Field(alias="to", pattern=MONTH)


class PeriodOut(BaseModel):
    model_config = ConfigDict(populate_by_name=True)
    start: str = Field(alias="from")
    end: str = Field(alias="to")


class IdleInstitutionOut(BaseModel):
    code: str
    name: str
    city: str


class IdleInstrumentOut(BaseModel):
    code: str
    platform_code: str | None
    name: str
    classification: str
    institution: IdleInstitutionOut
    value_cny: float
    effective_hours: float
    quota_hours: float
    utilisation: float | None
    external_hours: float
    sharing_rate: float | None
    self_reported: bool
    sensor: Literal["ok", "silent", "none"]
    sensor_seen_share: float
    idle: bool
    flags: list[str]


class IdleReportOut(BaseModel):
    period: PeriodOut
    version: int
    generated_at: str
    generated_by: str
    thresholds: dict[str, float]
    instruments: list[IdleInstrumentOut]
    totals: dict[str, Any]
    previous: dict[str, Any] | None


def _answer(view: dict[str, Any], report: Any, fmt: str) -> Response:
    if fmt == "json":
        return jsonify(view)
    tz = platform().settings.orders.timezone
    data = idle_reports.report_file(report, view, fmt, tz)
    name = f"idle-report-{report.period_from}-{report.period_to}-v{report.version}.{fmt}"
    return Response(data, mimetype=MEDIA[fmt], headers={"Content-Disposition": f'attachment; filename="{name}"'})


@reports_bp.get("/idle")
@documented("/admin/reports/idle", "get", "The idle-instrument report of a period (its latest version unless asked)",
            IdleReportOut, query=IdleQuery, errors=(400, 401, 403, 404, 422), signed_in=True,
            alt_media_types=tuple(MEDIA.values()))
def idle():  # type: ignore[no-untyped-def]
    query = parse_query(IdleQuery, request.args)
    p = platform()
    tz = p.settings.orders.timezone
    with p.transaction() as session:
        user = require_role(signed_in_user(session), *idle_reports.READERS)
        try:
            report = idle_reports.find_report(session, query.start, query.end, query.version)
        except NotFound:
            # a platform admin asking for a period never reported gets it generated (version 1)
            if user.role != Role.platform_admin or query.version is not None:
                raise
            report = idle_report.generate(session, query.start, query.end, p.settings.data, tz, user.display_name)
            idle_reports.notify_institutions(session, report, tz)
        view = idle_reports.view_of(session, user, report)
    return _answer(view, report, query.format)


@reports_bp.post("/idle")
@documented("/admin/reports/idle", "post", "Generate the idle report of a period again: a new version", IdleReportOut,
            body=IdleGenerate, errors=(400, 401, 403, 422), signed_in=True, status=201)
def generate_idle():  # type: ignore[no-untyped-def]
    body = parse_json_body(IdleGenerate, request.get_json(silent=True))
    p = platform()
    tz = p.settings.orders.timezone
    with p.transaction() as session:
        user = require_role(signed_in_user(session), Role.platform_admin)
        report = idle_report.generate(session, body.start, body.end, p.settings.data, tz, user.display_name)
        idle_reports.notify_institutions(session, report, tz)
        view = idle_reports.view_of(session, user, report)
    return jsonify(view), 201
