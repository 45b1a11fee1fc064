"""Turning orders and their neighbours into response models (shared by the order and lab APIs)."""
from __future__ import annotations

from typing import Callable

from flask import Response, current_app, jsonify
from sqlalchemy.orm import Session

from api.order_schemas import CampaignOut, OrderDetail, OrderEventOut, OrderOut, RatingOut, ReportOut
from core.models import Order, Rating, Report, User
from core.platform import Platform
from core.services.orders import reports
from core.services.orders.group_buy import Progress
from core.services.orders.slot_proposals import describe as describe_proposal


def platform() -> Platform:
    return current_app.extensions["platform"]


def cny(cents: int) -> float:
    return round(cents / 100, 2)


def order_out(order: Order) -> OrderOut:
    service = order.service
    return OrderOut(
        number=order.number, status=order.status.value, service_code=service.code, service_name=service.name,
        institution_code=service.instrument.institution.code, instrument_code=service.instrument.code,
        samples=order.samples, sample_description=order.sample_description, company_name=order.company_name,
        contact_name=order.contact_name, contact_phone=order.contact_phone, mode=order.mode.value,
        slot_start=order.slot_start, slot_end=order.slot_end, delivery_date=order.delivery_date,
        unit_price_cny=cny(order.unit_price_cents), total_cny=cny(order.total_cents),
        voucher_cny=cny(order.voucher_cents), cash_cny=cny(order.cash_cents), campaign_id=order.campaign_id,
        expires_at=order.expires_at, auto_confirm_at=order.auto_confirm_at, created_at=order.created_at,
    )


def order_detail(order: Order, has_report: bool) -> OrderDetail:
    events = [OrderEventOut(at=e.at, actor_role=e.actor_role, from_status=e.from_status, to_status=e.to_status,
                            reason=describe_proposal(e.reason)) for e in order.events]
    return OrderDetail(**order_out(order).model_dump(), events=events, has_report=has_report)


def campaign_out(state: Progress) -> CampaignOut:
    c = state.campaign
    return CampaignOut(id=c.id, service_code=state.service.code, service_name=state.service.name,
                       min_samples=c.min_samples, max_samples=c.max_samples, paid_samples=state.paid_samples,
                       progress=state.label, group_price_cny=cny(c.group_price_cents), deadline=c.deadline,
                       run_date=c.run_date, status=c.status)


def order_action(who: Callable[[Session], User], action: Callable[[Session, User, Platform], Order]) -> Response:
    """Run one order transition in a writing transaction and answer the order."""
    p = platform()
    with p.transaction() as session:
        out = order_out(action(session, who(session), p))
    return jsonify(out.model_dump(mode="json"))


def report_out(report: Report, user: User) -> ReportOut:
    settings = platform().settings
    token = reports.download_token(settings, report, user)
    return ReportOut(filename=report.filename, size_bytes=report.size_bytes, sha256=report.sha256,
                     uploaded_at=report.uploaded_at, download_url=f"/api/v1/reports/download?token={token}",
                     expires_in=settings.orders.report_link_seconds)


def rating_out(number: str, rating: Rating) -> RatingOut:
    return RatingOut(order_number=number, stars=rating.stars, comment=rating.comment, lab_reply=rating.lab_reply,
                     created_at=rating.created_at)
