"""The console blueprint, its navigation and its guard (platform admins)."""
from __future__ import annotations

from typing import Any

from flask import Blueprint, g

from web.session import protect_forms

console_bp = Blueprint("console", __name__, url_prefix="/console")
console_bp.before_request(protect_forms)

NAV = (
    ("数据看板", "/console/dashboard"), ("闲置通报", "/console/idle-reports"), ("年度评价", "/console/evaluation"),
    ("新购查重", "/console/purchases"), ("入网审核", "/console/reviews"), ("待审队列", "/console/queues"),
    ("目录", "/console/catalog"), ("同义词", "/console/synonyms"), ("搜索索引", "/console/index"),
    ("未满足需求", "/console/unmet"), ("用户", "/console/users"), ("后台任务", "/console/jobs"),
    ("API 文档", "/console/api-docs"), ("微信绑定", "/console/wechat"),
)


@console_bp.context_processor
def _navigation() -> dict[str, Any]:
    badges = getattr(g, "nav_badges", {})
    return {"nav_items": [{"label": label, "href": href, "badge": badges.get(href)} for label, href in NAV],
            "area": "平台管理控制台"}
