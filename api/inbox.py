"""The notification inbox: everything pushed to WeChat is also here."""
from __future__ import annotations

from flask import Blueprint, jsonify, request
from sqlalchemy import select

from api.auth import signed_in_user
from api.openapi import documented
from api.order_schemas import NotificationList, NotificationOut
from api.order_views import platform
from core.models import Notification, Order
from core.services.people.notifications import inbox, mark_read

inbox_bp = Blueprint("inbox", __name__, url_prefix="/api/v1")


def _out(note: Notification, number: str | None) -> NotificationOut:
    return NotificationOut(id=note.id, kind=note.kind, title=note.title, body=note.body, order_number=number,
                           wechat_status=note.wechat_status, read=note.read_at is not None, created_at=note.created_at)


@inbox_bp.get("/me/notifications")
@documented("/me/notifications", "get", "My notifications, newest first (?unread=1)", NotificationList,
            errors=(401,), signed_in=True)
def list_notifications():  # type: ignore[no-untyped-def]
    with platform().transaction(write=False) as session:
        notes = inbox(session, signed_in_user(session), unread_only=request.args.get("unread") in ("1", "true"))
        numbers = dict(session.execute(select(Order.id, Order.number).where(
            Order.id.in_({n.order_id for n in notes if n.order_id}))).all())
        out = NotificationList(items=[_out(n, numbers.get(n.order_id)) for n in notes])
    return jsonify(out.model_dump(mode="json"))


@inbox_bp.post("/me/notifications/<int:notification_id>/read")
@documented("/me/notifications/{notification_id}/read", "post", "Mark one notification read", NotificationOut,
            errors=(401, 404), signed_in=True)
def read(notification_id: int):  # type: ignore[no-untyped-def]
    with platform().transaction() as session:
        note = mark_read(session, signed_in_user(session), notification_id)
        number = session.scalar(select(Order.number).where(Order.id == note.order_id)) if note.order_id else None
        out = _out(note, number)
    return jsonify(out.model_dump(mode="json"))
