"""The ordering user's side: place, pay, cancel, confirm or dispute, rate, fetch the report, answer a proposed new slot."""
from __future__ import annotations

from datetime import datetime
from io import BytesIO
from typing import Literal
from zoneinfo import ZoneInfo

from flask import Blueprint, Response, jsonify, request, send_file
from pydantic import BaseModel, Field
from sqlalchemy import select

from api.auth import signed_in_user
from api.openapi import documented
from api.order_schemas import (
    CreateOrderBody, DownloadQuery, NotifyResult, OkOut, OrderDetail, OrderList, OrderOut, PaymentStartOut,
    RatingBody, RatingOut, ReasonBody, ReportOut,
)
from api.order_views import order_action, order_detail, order_out, platform, rating_out, report_out
from api.validation import parse_json_body
from core.errors import AppError, NotFound
from core.models import DeliveryMode, Payment, Report
from core.payment_providers import get_provider
from core.payment_providers.sandbox import SandboxProvider
from core.report_storage import LocalReportStorage
from core.services.orders import payments, ratings, reports, slot_proposals
from core.services.orders import lifecycle as orders

orders_bp = Blueprint("orders", __name__, url_prefix="/api/v1")

ORDER_ERRORS = (400, 401, 403, 404, 409, 422)


def _body(model):  # type: ignore[no-untyped-def]
    return parse_json_body(model, request.get_json(silent=True))


@orders_bp.post("/orders")
@documented("/orders", "post", "Place an order (the price is computed by the platform)", OrderOut,
            errors=ORDER_ERRORS, body=CreateOrderBody, signed_in=True, status=201)
def create_order():  # type: ignore[no-untyped-def]
    body = _body(CreateOrderBody)
    p = platform()
    with p.transaction() as session:
        order = orders.create_order(session, signed_in_user(session), orders.NewOrder(
            service_code=body.service_code, samples=body.samples, sample_description=body.sample_description,
            mode=DeliveryMode(body.mode), slot_start=body.slot_start, delivery_date=body.delivery_date,
            contact_name=body.contact_name, contact_phone=body.contact_phone, voucher_id=body.voucher_id,
            voucher_cny=body.voucher_cny, expected_total_cny=body.expected_total_cny, campaign_id=body.campaign_id,
        ), p.settings)
        out = order_out(order)
    return jsonify(out.model_dump(mode="json")), 201


@orders_bp.get("/orders")
@documented("/orders", "get", "My orders; lab staff: their lab's incoming orders; admins: all", OrderList,
            errors=(400, 401), signed_in=True)
def list_orders():  # type: ignore[no-untyped-def]
    with platform().transaction(write=False) as session:
        items = [order_out(o) for o in orders.orders_of(session, signed_in_user(session), request.args.get("status"))]
    return jsonify(OrderList(items=items).model_dump(mode="json"))


@orders_bp.get("/orders/<number>")
@documented("/orders/{number}", "get", "One order with its audit trail", OrderDetail, errors=(401, 404), signed_in=True)
def get_order(number: str):  # type: ignore[no-untyped-def]
    with platform().transaction(write=False) as session:
        order = orders.load_order(session, signed_in_user(session), number)
        has_report = session.scalar(select(Report.id).where(Report.order_id == order.id)) is not None
        out = order_detail(order, has_report)
    return jsonify(out.model_dump(mode="json"))


@orders_bp.post("/orders/<number>/payment")
@documented("/orders/{number}/payment", "post", "Start paying (reserves the voucher part)", PaymentStartOut,
            errors=ORDER_ERRORS + (503,), signed_in=True)
def start_payment(number: str):  # type: ignore[no-untyped-def]
    p = platform()
    with p.transaction() as session:
        started = payments.start_payment(session, signed_in_user(session), number, get_provider(p.settings),
                                         p.settings, request.remote_addr or "127.0.0.1")
        out = PaymentStartOut(order=order_out(started.order), payment=started.params)
    return jsonify(out.model_dump(mode="json"))


@orders_bp.post("/payments/sandbox/<out_trade_no>/complete")
@documented("/payments/sandbox/{out_trade_no}/complete", "post", "Sandbox only: pay, as the payment page would",
            NotifyResult, errors=(400, 401, 404, 409), signed_in=True)
def sandbox_complete(out_trade_no: str):  # type: ignore[no-untyped-def]
    p = platform()
    if p.settings.payment_provider != "sandbox":
        raise NotFound("沙箱付款页已关闭：付款请通过微信支付。", code="sandbox_off")
    provider = get_provider(p.settings)
    assert isinstance(provider, SandboxProvider)
    with p.transaction() as session:
        user = signed_in_user(session)
        payment = session.scalar(select(Payment).where(Payment.out_trade_no == out_trade_no))
        if payment is None or orders.load_order_by_id(session, payment.order_id).user_id != user.id:
            raise NotFound(f"没有付款记录 {out_trade_no}。", code="payment_not_found")
        body = provider.signed_notification(out_trade_no, payment.amount_cents)
        result = payments.handle_notification(session, provider, body, {}, p.settings)
        out = NotifyResult(result=result, order=order_out(orders.load_order_by_id(session, payment.order_id)))
    return jsonify(out.model_dump(mode="json"))


@orders_bp.post("/payments/<provider_name>/notify")
@documented("/payments/{provider_name}/notify", "post", "Payment notifications from the provider (signed)",
            NotifyResult, errors=(400, 404))
def payment_notify(provider_name: str):  # type: ignore[no-untyped-def]
    p = platform()
    if provider_name != p.settings.payment_provider:
        raise NotFound(f"本平台未启用支付渠道 {provider_name!r}。", code="provider_not_found")
    provider = get_provider(p.settings)
    try:
        with p.transaction() as session:
            payments.handle_notification(session, provider, request.get_data(), request.headers, p.settings)
    except AppError as exc:
        # answered in the provider's own format: WeChat Pay reads only its own, and retries on a failure
        body, content_type, _ = provider.acknowledgement(False, exc.message)
        return Response(body, status=exc.status, content_type=content_type)
    body, content_type, status = provider.acknowledgement(True)
    return Response(body, status=status, content_type=content_type)


@orders_bp.post("/orders/<number>/cancel")
@documented("/orders/{number}/cancel", "post", "Cancel (free before the lab accepts; then the lab's rule)",
            OrderOut, errors=ORDER_ERRORS, body=ReasonBody, signed_in=True)
def cancel(number: str):  # type: ignore[no-untyped-def]
    body = _body(ReasonBody)
    return order_action(signed_in_user, lambda s, u, p: orders.cancel(s, u, number, body.reason, p.settings))


@orders_bp.post("/orders/<number>/confirm")
@documented("/orders/{number}/confirm", "post", "Accept the report: escrow is released to the lab", OrderOut,
            errors=ORDER_ERRORS, signed_in=True)
def confirm(number: str):  # type: ignore[no-untyped-def]
    return order_action(signed_in_user, lambda s, u, p: orders.confirm(s, u, number, p.settings))


@orders_bp.post("/orders/<number>/dispute")
@documented("/orders/{number}/dispute", "post", "Dispute the report; a platform admin decides", OrderOut,
            errors=ORDER_ERRORS, body=ReasonBody, signed_in=True)
def dispute(number: str):  # type: ignore[no-untyped-def]
    body = _body(ReasonBody)
    return order_action(signed_in_user, lambda s, u, p: orders.dispute(s, u, number, body.reason))


@orders_bp.post("/orders/<number>/rating")
@documented("/orders/{number}/rating", "post", "Rate a settled order (once)", RatingOut, errors=ORDER_ERRORS,
            body=RatingBody, signed_in=True, status=201)
def rate(number: str):  # type: ignore[no-untyped-def]
    body = _body(RatingBody)
    with platform().transaction() as session:
        rating = ratings.rate(session, signed_in_user(session), number, body.stars, body.comment)
        out = rating_out(number, rating)
    return jsonify(out.model_dump(mode="json")), 201


@orders_bp.get("/orders/<number>/report")
@documented("/orders/{number}/report", "get", "The report's checksum and an expiring download link", ReportOut,
            errors=(401, 404), signed_in=True)
def report_link(number: str):  # type: ignore[no-untyped-def]
    p = platform()
    with p.transaction(write=False) as session:
        user = signed_in_user(session)
        _, report = reports.report_of(session, user, number)
        out = report_out(report, user)
    return jsonify(out.model_dump(mode="json"))


@orders_bp.get("/reports/download")
@documented("/reports/download", "get", "The report PDF, for whoever holds a fresh link", OkOut, query=DownloadQuery,
            errors=(403, 404), media_type="application/pdf")
def download_report():  # type: ignore[no-untyped-def]
    """The link itself is the credential (it names the report and expires), so a browser can open it."""
    p = platform()
    with p.transaction(write=False) as session:
        report = reports.report_for_token(session, p.settings, request.args.get("token", ""))
        data = LocalReportStorage(p.settings.reports_dir).get(report.storage_key)
        name = report.filename
    return send_file(BytesIO(data), mimetype="application/pdf", download_name=name, as_attachment=True)


class SlotProposalOut(BaseModel):
    id: int
    state: Literal["pending", "accepted", "declined", "expired"] = Field(
        description="pending: waiting for the customer; expired: the time passed or the order moved on")
    start: datetime = Field(description="the proposed slot, in the platform's time zone")
    end: datetime
    previous_start: datetime = Field(description="the slot booked when the lab proposed")
    previous_end: datetime
    note: str | None
    proposed_at: datetime
    answered_at: datetime | None


class SlotProposalState(BaseModel):
    order_number: str
    proposal: SlotProposalOut | None = Field(description="the newest proposal, or null if the lab made none")


class SlotProposalAnswer(BaseModel):
    order: OrderOut
    proposal: SlotProposalOut


def _proposal_out(proposal: slot_proposals.Proposal) -> SlotProposalOut:
    zone = ZoneInfo(platform().settings.orders.timezone)
    return SlotProposalOut(
        id=proposal.id, state=proposal.state, start=proposal.start.astimezone(zone), end=proposal.end.astimezone(zone),
        previous_start=proposal.previous_start.astimezone(zone), previous_end=proposal.previous_end.astimezone(zone),
        note=proposal.note, proposed_at=proposal.proposed_at.astimezone(zone),
        answered_at=proposal.answered_at.astimezone(zone) if proposal.answered_at else None)


@orders_bp.get("/orders/<number>/slot-proposal")
@documented("/orders/{number}/slot-proposal", "get", "The lab's newest proposal of a new slot for a visit",
            SlotProposalState, errors=(401, 404), signed_in=True)
def get_slot_proposal(number: str):  # type: ignore[no-untyped-def]
    with platform().transaction(write=False) as session:
        order = orders.load_order(session, signed_in_user(session), number)
        proposal = slot_proposals.latest(session, order)
        out = SlotProposalState(order_number=number, proposal=_proposal_out(proposal) if proposal else None)
    return jsonify(out.model_dump(mode="json"))


@orders_bp.post("/orders/<number>/slot-proposal/accept")
@documented("/orders/{number}/slot-proposal/accept", "post",
            "The customer takes the proposed slot: the booking moves (accepting again changes nothing)",
            SlotProposalAnswer, errors=(400, 401, 403, 404, 409), signed_in=True)
def accept_slot_proposal(number: str):  # type: ignore[no-untyped-def]
    p = platform()
    with p.transaction() as session:
        order, proposal = slot_proposals.accept(session, signed_in_user(session), number, p.settings.orders)
        out = SlotProposalAnswer(order=order_out(order), proposal=_proposal_out(proposal))
    return jsonify(out.model_dump(mode="json"))


@orders_bp.post("/orders/<number>/slot-proposal/decline")
@documented("/orders/{number}/slot-proposal/decline", "post",
            "The customer keeps the booked slot; the lab is told (declining again changes nothing)",
            SlotProposalAnswer, errors=(400, 401, 403, 404, 409), body=ReasonBody, signed_in=True)
def decline_slot_proposal(number: str):  # type: ignore[no-untyped-def]
    body = _body(ReasonBody)
    p = platform()
    with p.transaction() as session:
        order, proposal = slot_proposals.decline(session, signed_in_user(session), number, p.settings.orders,
                                                 reason=body.reason)
        out = SlotProposalAnswer(order=order_out(order), proposal=_proposal_out(proposal))
    return jsonify(out.model_dump(mode="json"))
