"""Platform admins: dispute decisions and the ledger check."""
from __future__ import annotations

from flask import Blueprint, jsonify, request

from api.auth import signed_in_user
from api.openapi import documented
from api.order_schemas import LedgerCheckOut, OrderOut, ResolveBody
from api.order_views import cny, order_out, platform
from api.validation import parse_json_body
from core.models import Role
from core.services.orders import lifecycle as orders
from core.services.people.authz import require_role
from core.services.orders.ledger import balances, ledger_problems

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
