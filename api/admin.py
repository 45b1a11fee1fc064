"""Platform admins: dispute decisions, the ledger check and the national export (数据报送)."""
from __future__ import annotations

from datetime import date
from typing import Any, Literal

from flask import Blueprint, Response, jsonify, request
from pydantic import BaseModel, Field

from api.auth import signed_in_user
from api.openapi import documented
from api.order_schemas import LedgerCheckOut, OrderOut, ResolveBody
from api.order_views import cny, order_out, platform
from api.validation import Day, parse_json_body, parse_query
from core.errors import InvalidInput
from core.models import Role
from core.services.orders import lifecycle as orders
from core.services.people.authz import require_role
from core.services.orders.ledger import balances, ledger_problems
from core.services.data import national_export as national

admin_bp = Blueprint("admin", __name__, url_prefix="/api/v1/admin")


@admin_bp.post("/orders/<number>/resolve")
@documented("/admin/orders/{number}/resolve", "post", "Decide a dispute: release, partial or full refund", OrderOut,
            errors=(400, 401, 403, 404, 409), body=ResolveBody, signed_in=True)
def resolve(number: str):  # type: ignore[no-untyped-def]
    body = parse_json_body(ResolveBody, request.get_json(silent=True))
    p = platform()
    with p.transaction() as session:
        order = orders.resolve_dispute(session, signed_in_user(session), number, body.outcome, p.settings,
                                       body.refund_cny, body.reason)
        out = order_out(order)
    return jsonify(out.model_dump(mode="json"))


@admin_bp.get("/ledger")
@documented("/admin/ledger", "get", "Account balances and the invariant check", LedgerCheckOut,
            errors=(401, 403), signed_in=True)
def ledger():  # type: ignore[no-untyped-def]
    with platform().transaction(write=False) as session:
        require_role(signed_in_user(session), Role.platform_admin)
        problems = ledger_problems(session)
        out = LedgerCheckOut(balanced=not problems, problems=problems,
                             balances={k: cny(v) for k, v in sorted(balances(session).items())})
    return jsonify(out.model_dump(mode="json"))


class NationalExportQuery(BaseModel):
    model_config = {"extra": "forbid"}
    start: Day = Field(alias="from")
    end: Day = Field(alias="to")
    what: Literal["instruments", "services"]
    format: Literal["json", "csv"] = "json"


class ExportPeriod(BaseModel):
    start: date = Field(alias="from")
    end: date = Field(alias="to")


class ExportColumn(BaseModel):
    key: str
    label: str


class NationalExportOut(BaseModel):
    what: Literal["instruments", "services"]
    period: ExportPeriod
    timezone: str
    columns: list[ExportColumn]
    count: int
    items: list[dict[str, Any]]


@admin_bp.get("/exports/national")
@documented("/admin/exports/national", "get", "数据报送: instruments as the national record, or the orders settled "
            "in [from, to] as service records (?format=csv)", NationalExportOut, query=NationalExportQuery,
            errors=(400, 401, 403), signed_in=True, alt_media_types=("text/csv",))
def national_export():  # type: ignore[no-untyped-def]
    p = platform()
    with p.transaction(write=False) as session:
        actor = require_role(signed_in_user(session), Role.platform_admin)
        query = parse_query(NationalExportQuery, request.args)
        if query.end < query.start:
            raise InvalidInput("结束日期（to）不能早于开始日期（from）。", code="invalid_period")
        export = national.national_export(session, actor, query.what, query.start, query.end,
                                          p.settings.orders.timezone)
    if query.format == "csv":
        return Response(national.as_csv(export), content_type="text/csv; charset=utf-8",
                        headers={"Content-Disposition": f"attachment; filename={national.export_name(export, 'csv')}"})
    return jsonify(national.as_json(export))
