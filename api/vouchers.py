"""Innovation vouchers: apply, see balances, the admin's decision, the redemption statement."""
from __future__ import annotations

from flask import Blueprint, Response, jsonify, request

from api.auth import signed_in_user
from api.openapi import documented
from api.order_schemas import (
    StatementLineOut, StatementOut, StatementQuery, VoucherApplyBody, VoucherDecisionBody, VoucherList, VoucherOut,
)
from api.order_views import cny, platform
from api.validation import parse_json_body, parse_query
from core.errors import InvalidInput
from core.models import VoucherApplication
from core.services.orders import vouchers

vouchers_bp = Blueprint("vouchers", __name__, url_prefix="/api/v1")


def voucher_out(v: VoucherApplication) -> VoucherOut:
    return VoucherOut(id=v.id, company_name=v.company_name, company_credit_code=v.company_credit_code,
                      status=v.status.value, requested_cny=cny(v.requested_cents), approved_cny=cny(v.approved_cents),
                      reserved_cny=cny(v.reserved_cents), consumed_cny=cny(v.consumed_cents),
                      available_cny=cny(v.available_cents), valid_from=v.valid_from, valid_until=v.valid_until,
                      purpose=v.purpose, decision_reason=v.decision_reason)


@vouchers_bp.post("/vouchers")
@documented("/vouchers", "post", "Apply for innovation vouchers for my verified company", VoucherOut,
            errors=(400, 401, 403, 422), body=VoucherApplyBody, signed_in=True, status=201)
def apply():  # type: ignore[no-untyped-def]
    body = parse_json_body(VoucherApplyBody, request.get_json(silent=True))
    p = platform()
    with p.transaction() as session:
        application = vouchers.apply_for_voucher(session, signed_in_user(session), round(body.requested_cny * 100),
                                                 body.purpose, p.settings.vouchers)
        out = voucher_out(application)
    return jsonify(out.model_dump(mode="json")), 201


@vouchers_bp.get("/vouchers")
@documented("/vouchers", "get", "My verified company's vouchers, if I am an active member (admins: every application)",
            VoucherList, errors=(401,), signed_in=True)
def list_vouchers():  # type: ignore[no-untyped-def]
    with platform().transaction(write=False) as session:
        out = VoucherList(items=[voucher_out(v) for v in vouchers.vouchers_for(session, signed_in_user(session))])
    return jsonify(out.model_dump(mode="json"))


@vouchers_bp.post("/admin/vouchers/<int:application_id>/decision")
@documented("/admin/vouchers/{application_id}/decision", "post", "Approve (amount, validity) or reject (reason)",
            VoucherOut, errors=(400, 401, 403, 404, 409, 422), body=VoucherDecisionBody, signed_in=True)
def decide(application_id: int):  # type: ignore[no-untyped-def]
    body = parse_json_body(VoucherDecisionBody, request.get_json(silent=True))
    p = platform()
    with p.transaction() as session:
        application = vouchers.decide_voucher(
            session, signed_in_user(session), application_id, approve=body.approve, rules=p.settings.vouchers,
            amount_cents=None if body.amount_cny is None else round(body.amount_cny * 100),
            valid_until=body.valid_until, reason=body.reason)
        out = voucher_out(application)
    return jsonify(out.model_dump(mode="json"))


@vouchers_bp.get("/vouchers/statement")
@documented("/vouchers/statement", "get", "Voucher amounts the fund owes each lab for a period (?format=csv)",
            StatementOut, query=StatementQuery, errors=(400, 401, 403), signed_in=True,
            alt_media_types=("text/csv",))
def statement():  # type: ignore[no-untyped-def]
    query = parse_query(StatementQuery, request.args)
    if query.end < query.start:
        raise InvalidInput("结束日期（to）不能早于开始日期（from）。", code="invalid_period")
    with platform().transaction(write=False) as session:
        lines = vouchers.redemption_statement(session, signed_in_user(session), query.start, query.end,
                                              platform().settings.orders.timezone)
    if query.format == "csv":
        return Response(vouchers.statement_csv(lines, query.start, query.end), content_type="text/csv; charset=utf-8",
                        headers={"Content-Disposition": f"attachment; filename=vouchers-{query.start}-{query.end}.csv"})
    out = StatementOut(start=query.start, end=query.end, total_cny=round(sum(l.voucher_cny for l in lines), 2),
                       lines=[StatementLineOut(**vars(l)) for l in lines])
    return jsonify(out.model_dump(mode="json"))
