"""The expert blueprint, its navigation and its guard (experts see only what they are assigned)."""
from __future__ import annotations

from typing import Any

from flask import Blueprint

from web.session import protect_forms

expert_bp = Blueprint("expert", __name__, url_prefix="/expert")
expert_bp.before_request(protect_forms)

# each page module adds its entry; the first is where an expert lands after signing in
NAV: list[tuple[str, str]] = [("我的评审", "/expert/home")]


@expert_bp.context_processor
def _navigation() -> dict[str, Any]:
    return {"nav_items": [{"label": label, "href": href, "badge": None} for label, href in NAV], "area": "专家评审"}
