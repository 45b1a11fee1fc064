"""The workbench blueprint, its navigation and its guard (lab roles; one institution's data)."""
from __future__ import annotations

from typing import Any

from flask import Blueprint, g

from core.services.orders.todo import to_accept_count
from core.services.people.notifications import unread_count
from web.session import platform, protect_forms

workbench_bp = Blueprint("workbench", __name__, url_prefix="/workbench")
workbench_bp.before_request(protect_forms)

NAV = (
    ("今日待办", "/workbench/today"), ("订单", "/workbench/orders"), ("仪器与日历", "/workbench/instruments"),
    ("服务项目", "/workbench/listings"), ("财务", "/workbench/money"), ("闲置通报", "/workbench/idle-reports"), ("团购", "/workbench/group-buys"),
    ("消息", "/workbench/inbox"), ("微信绑定", "/workbench/wechat"),
    ("新购查重", "/workbench/purchases"),
    ("年度评价", "/workbench/evaluation"),
)


def _nav_badges() -> dict[str, int]:
    """Unread messages and orders waiting to be accepted, counted once per request for the signed-in user."""
    with platform().transaction(write=False) as session:
        return {"/workbench/inbox": unread_count(session, g.user),
                "/workbench/today": to_accept_count(session, g.user.institution_id)}


@workbench_bp.context_processor
def _navigation() -> dict[str, Any]:
    # pages render after `requires` has set g.user; the sign-in redirect and the 403 page have none
    if "nav_badges" not in g and getattr(g, "user", None) is not None:
        g.nav_badges = _nav_badges()
    badges = getattr(g, "nav_badges", {})
    return {"nav_items": [{"label": label, "href": href, "badge": badges.get(href)} for label, href in NAV],
            "area": "实验室工作台"}
