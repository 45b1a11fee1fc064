"""Binding a staff account to the official account, so staff notifications reach their WeChat.

Lab staff and admins have no mini-program identity. In the workbench they ask for a
one-time scene (`bind:<token>`, valid 10 minutes, one per user: a new one replaces the
old) shown as a temporary parametric QR code; scanning it sends the official account a
subscribe / SCAN event with the scene, and the bot links the sender's official openid
to the account. One WeChat reaches one staff account: binding moves the openid.
"""
from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

import redis
from sqlalchemy import select
from sqlalchemy.orm import Session

from core.config import Settings
from core.models import Institution, User
from core.models._types import utcnow
from core.services.people.authz import STAFF_ROLES, require_role
from core.wechat_client import create_scene_qr, official_account_configured, qr_image_url

SCENE_PREFIX = "bind:"
BINDING_SECONDS = 600
NOT_CONFIGURED = ("微信公众号尚未配置（WECHAT_APP_ID、WECHAT_APP_SECRET），没有生成二维码；"
                  "演示环境可用场景值模拟扫码。")
REFRESH_REPLY = "这个绑定二维码已过期或已使用。请在工作台“微信提醒”处刷新二维码后重新扫描。"


@dataclass(frozen=True)
class Binding:
    scene: str
    qr_url: str | None  # None: WeChat is not configured (demo), the scene alone is returned
    expires_at: datetime
    notice: str | None = None


@dataclass(frozen=True)
class BindingStatus:
    bound: bool


@dataclass(frozen=True)
class Bound:
    display_name: str
    institution_name: str | None


def _scene_key(scene: str) -> str:
    return f"wechat:bind:scene:{scene}"


def _user_key(user_id: int) -> str:
    return f"wechat:bind:user:{user_id}"


def is_binding_scene(scene: str) -> bool:
    return scene.startswith(SCENE_PREFIX)


def start_binding(conn: redis.Redis, settings: Settings, user: User, now: datetime | None = None) -> Binding:
    """A fresh one-time scene for `user` and, when the official account is configured, its QR code."""
    require_role(user, *STAFF_ROLES)
    scene = SCENE_PREFIX + secrets.token_urlsafe(16)
    expires_at = (now or utcnow()) + timedelta(seconds=BINDING_SECONDS)
    qr_url, notice = None, None
    if official_account_configured(settings):
        # WeChat first: if it fails, the code the user may already be looking at stays valid
        qr_url = qr_image_url(settings, create_scene_qr(settings, conn, scene, BINDING_SECONDS))
    else:
        notice = NOT_CONFIGURED
    conn.set(_scene_key(scene), str(user.id), ex=BINDING_SECONDS)
    # swap in one command, so two requests racing leave exactly one valid scene
    previous = conn.set(_user_key(user.id), scene, ex=BINDING_SECONDS, get=True)
    if previous:
        conn.delete(_scene_key(previous.decode() if isinstance(previous, bytes) else previous))
    return Binding(scene=scene, qr_url=qr_url, expires_at=expires_at, notice=notice)


def _take_scene(conn: redis.Redis, scene: str) -> int | None:
    """The user a scene was made for, consuming it: a scene works once, whatever the race."""
    pipe = conn.pipeline(transaction=True)
    pipe.get(_scene_key(scene))
    pipe.delete(_scene_key(scene))
    user_id, _ = pipe.execute()
    return int(user_id) if user_id else None


def complete_binding(session: Session, conn: redis.Redis, scene: str, openid: str) -> Bound | None:
    """What a scan of the scene does: link `openid` to the scene's staff account, taking it from
    any other account. None for an unknown, expired or used scene (or an account no longer staff)."""
    if not is_binding_scene(scene) or not openid:
        return None
    user_id = _take_scene(conn, scene)
    user = session.get(User, user_id, with_for_update=True) if user_id else None
    if user is None or not user.active or user.role not in STAFF_ROLES:
        return None
    if user.official_openid != openid:
        for other in session.scalars(select(User).where(User.official_openid == openid, User.id != user.id)):
            other.official_openid = None
        session.flush()  # the unique openid leaves the other account before it arrives here
        user.official_openid = openid
        session.flush()
    institution = session.get(Institution, user.institution_id) if user.institution_id else None
    return Bound(user.display_name, institution.name if institution else None)


def scan_reply(bound: Bound | None) -> str:
    """What the official account answers the person who scanned."""
    if bound is None:
        return REFRESH_REPLY
    account = bound.display_name + (f"（{bound.institution_name}）" if bound.institution_name else "")
    return f"已绑定到平台账号 {account}，之后的新订单、样品到期、报告逾期、纠纷和评价提醒会发到这里。"


def unbind(session: Session, user: User) -> BindingStatus:
    require_role(user, *STAFF_ROLES)
    user.official_openid = None
    session.flush()
    return BindingStatus(bound=False)


def binding_status(session: Session, user: User) -> BindingStatus:
    require_role(user, *STAFF_ROLES)
    return BindingStatus(bound=bool(user.official_openid))
