"""GET /api/v1/search — the search contract of DESIGN.md."""
from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, jsonify, request
from pydantic import BaseModel, ConfigDict, Field

from api.openapi import documented
from api.auth import optional_signed_in_user_id
from api.schemas import HotSearch, HotSearches, SearchResponse
from api.validation import parse_query
from core.errors import InvalidInput
from core.models._types import local_today
from core.services.people.rate_limit import enforce
from core.services.catalog.search_log import hot_searches, record_search
from core.services.usage.status import live_statuses
from search_index.engine import MAX_QUERY_CHARS, SearchEngine, SearchFilters, SearchHit

search_bp = Blueprint("search", __name__, url_prefix="/api/v1")

class SearchParams(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    q: str = Field(min_length=1, max_length=MAX_QUERY_CHARS)
    limit: int = Field(default=10, ge=1, le=50)
    city: str | None = Field(default=None, min_length=1)
    category: str | None = Field(default=None, min_length=1)
    max_price: float | None = Field(default=None, ge=0, allow_inf_nan=False)
    accreditation: str | None = Field(default=None, min_length=1)


_MESSAGES = {
    "q": f"请填写搜索内容 q，1 到 {MAX_QUERY_CHARS} 个字符。",
    "limit": "limit 须为 1 到 50 的整数。",
    "max_price": "max_price 须为不小于 0 的金额（元）。",
}


def _item(hit: SearchHit, status: str) -> dict[str, Any]:
    d = hit.doc
    return {
        "service": {
            "code": d.code, "name": d.name, "price_cny": d.price_cny, "price_unit": d.price_unit,
            "turnaround_days": d.turnaround_days, "accreditations": d.accreditations,
        },
        "instrument": {"code": d.instrument_code, "name": d.instrument_name, "status": status},
        "institution": {"code": d.institution_code, "name": d.institution_name, "city": d.city},
        "score": hit.score,
        "why": hit.why,
    }


@search_bp.get("/search")
@documented("/search", "get", "Find testing services for a need in plain words", SearchResponse, SearchParams, (400, 401, 429, 503))
def search():  # type: ignore[no-untyped-def]
    platform = current_app.extensions["platform"]
    user_id = optional_signed_in_user_id()
    limits = platform.settings
    enforce(platform.redis, "search-ip", request.remote_addr or "-", limits.search_per_ip)
    if user_id is not None:
        enforce(platform.redis, "search-user", str(user_id), limits.search_per_user)
    params = parse_query(SearchParams, request.args, _MESSAGES)
    engine: SearchEngine = current_app.extensions["search"]
    filters = SearchFilters(params.city, params.category, params.max_price, params.accreditation)
    unknown = engine.unknown_filter_values(filters)
    if unknown:
        names = ", ".join(f"{k}={getattr(params, k)!r}" for k in unknown)
        raise InvalidInput(
            f"筛选条件取值不存在：{names}。可用的取值见 details。",
            code="unknown_filter_value",
            details={"known": unknown},
        )
    result = engine.search(params.q, params.limit, filters)
    record_search(platform.redis, params.q, user_id, bool(result.hits),
                  today=local_today(platform.settings.orders.timezone))
    statuses = live_statuses(platform.redis, [h.doc.instrument_code for h in result.hits])
    body: dict[str, Any] = {"query": params.q, "items": [_item(h, statuses[h.doc.instrument_code]) for h in result.hits]}
    if not result.hits:
        body["message"] = "平台上暂时没有与该需求足够匹配的检测服务。"
    return jsonify(SearchResponse.model_validate(body).model_dump(exclude_none=True))


@search_bp.get("/search/hot")
@documented("/search/hot", "get", "What people searched for most in the last 7 days (needs with answers)", HotSearches, errors=())
def hot():  # type: ignore[no-untyped-def]
    items = [HotSearch(query=q, count=n) for q, n in hot_searches(current_app.extensions["platform"].redis,
                                                                   today=local_today(current_app.extensions["platform"].settings.orders.timezone))]
    return jsonify(HotSearches(items=items).model_dump())
