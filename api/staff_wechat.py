"""Staff bind their WeChat (the official account) to receive notifications there."""
from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from flask import Blueprint, jsonify
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from api.auth import signed_in_user
from api.openapi import documented
from api.order_views import platform
from core.models import User
from core.services.people.authz import require_role
from core.services.people.wechat_binding import STAFF_ROLES, binding_status, start_binding, unbind

staff_wechat_bp = Blueprint("staff_wechat", __name__, url_prefix="/api/v1/lab")

BOUND = "已绑定微信：新订单、样品到期、报告逾期、纠纷和评价提醒会发到您的微信。"
UNBOUND = "尚未绑定微信：提醒只在站内通知中。"


class BindingOut(BaseModel):
    scene: str = Field(description="the one-time scene; scanning its QR code binds this account")
    qr_url: str | None = Field(description="the QR code image; null when WeChat is not configured (demo)")
    expires_at: datetime = Field(description="ISO 8601 in the platform's time zone, with its offset")
    message: str


class BindingStatusOut(BaseModel):
    bound: bool
    message: str


def _staff(session: Session) -> User:
    return require_role(signed_in_user(session), *STAFF_ROLES)


def _status_out(bound: bool) -> BindingStatusOut:
    return BindingStatusOut(bound=bound, message=BOUND if bound else UNBOUND)


@staff_wechat_bp.post("/wechat-binding")
@documented("/lab/wechat-binding", "post", "A QR code that binds the scanner's WeChat to this staff account "
            "(valid 10 minutes, replaces the previous one)", BindingOut, errors=(401, 403, 503), signed_in=True,
            status=201)
def create():  # type: ignore[no-untyped-def]
    p = platform()
    with p.transaction(write=False) as session:
        user = _staff(session)
    # WeChat is asked outside the transaction: no database lock waits on it
    binding = start_binding(p.redis, p.settings, user)
    out = BindingOut(scene=binding.scene, qr_url=binding.qr_url,
                     expires_at=binding.expires_at.astimezone(ZoneInfo(p.settings.orders.timezone)),
                     message=binding.notice or "请用微信扫描二维码并关注公众号，10 分钟内有效。")
    return jsonify(out.model_dump(mode="json")), 201


@staff_wechat_bp.get("/wechat-binding")
@documented("/lab/wechat-binding", "get", "Whether this staff account's WeChat is bound", BindingStatusOut,
            errors=(401, 403), signed_in=True)
def status():  # type: ignore[no-untyped-def]
    with platform().transaction(write=False) as session:
        out = _status_out(binding_status(session, _staff(session)).bound)
    return jsonify(out.model_dump(mode="json"))


@staff_wechat_bp.delete("/wechat-binding")
@documented("/lab/wechat-binding", "delete", "Unbind WeChat: notifications stay in the inbox only",
            BindingStatusOut, errors=(401, 403), signed_in=True)
def remove():  # type: ignore[no-untyped-def]
    with platform().transaction() as session:
        out = _status_out(unbind(session, _staff(session)).bound)
    return jsonify(out.model_dump(mode="json"))
