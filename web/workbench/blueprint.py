"""The workbench blueprint, its navigation and its guard (lab roles; one institution's data)."""
from __future__ import annotations

from typing import Any

from flask import Blueprint, g

from web.session import protect_forms

workbench_bp = Blueprint("workbench", __name__, url_prefix="/workbench")
workbench_bp.before_request(protect_forms)

NAV = (
    ("今日待办", "/workbench/today"), ("订单", "/workbench/orders"), ("仪器与日历", "/workbench/instruments"),
    ("服务项目", "/workbench/listings"), ("财务", "/workbench/money"), ("团购", "/workbench/group-buys"),
    ("消息", "/workbench/inbox"), ("微信绑定", "/workbench/wechat"),
)


@workbench_bp.context_processor
def _navigation() -> dict[str, Any]:
    badges = getattr(g, "nav_badges", {})
    return {"nav_items": [{"label": label, "href": href, "badge": badges.get(href)} for label, href in NAV],
            "area": "实验室工作台"}
