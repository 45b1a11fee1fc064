"""Notifications: written to the inbox in the same transaction, pushed to WeChat by a job after commit."""
from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.errors import NotFound
from core.models import Notification, Order, Role, User
from core.models._types import utcnow
from core.queue import SEND_NOTIFICATION_JOB, defer


def shown_time(moment: datetime, timezone: str) -> str:
    """A moment as people read it: wall-clock time in the platform's zone, never bare UTC."""
    zone = ZoneInfo(timezone)
    aware = moment if moment.tzinfo else moment.replace(tzinfo=ZoneInfo("UTC"))
    return aware.astimezone(zone).strftime("%Y-%m-%d %H:%M")


def notify(session: Session, user_id: int, kind: str, title: str, body: str, order_id: int | None = None) -> Notification:
    note = Notification(user_id=user_id, order_id=order_id, kind=kind, title=title, body=body)
    session.add(note)
    session.flush()
    defer(session, SEND_NOTIFICATION_JOB, note.id)
    return note


def lab_people(session: Session, institution_id: int) -> list[User]:
    return list(session.scalars(select(User).where(
        User.institution_id == institution_id, User.active.is_(True),
        User.role.in_((Role.lab_staff, Role.institution_admin)))))


def notify_lab(session: Session, order: Order, kind: str, title: str, body: str) -> None:
    for person in lab_people(session, order.institution_id):
        notify(session, person.id, kind, title, body, order.id)


def inbox(session: Session, user: User, unread_only: bool = False, limit: int = 50) -> list[Notification]:
    query = select(Notification).where(Notification.user_id == user.id)
    if unread_only:
        query = query.where(Notification.read_at.is_(None))
    return list(session.scalars(query.order_by(Notification.id.desc()).limit(limit)))


def unread_count(session: Session, user: User) -> int:
    """How many of the user's notifications are unread (the workbench's badge)."""
    return int(session.scalar(select(func.count(Notification.id)).where(
        Notification.user_id == user.id, Notification.read_at.is_(None))) or 0)


def mark_read(session: Session, user: User, notification_id: int) -> Notification:
    note = session.get(Notification, notification_id)
    if note is None or note.user_id != user.id:
        raise NotFound("该通知不存在。")
    note.read_at = note.read_at or utcnow()
    session.flush()
    return note
