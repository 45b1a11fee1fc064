"""Group-buys users can join (by placing an order with campaign_id) and their progress."""
from __future__ import annotations

from flask import Blueprint, jsonify

from api.openapi import documented
from api.order_schemas import CampaignList, CampaignOut
from api.order_views import campaign_out, platform
from core.services.orders import group_buy

group_buys_bp = Blueprint("group_buys", __name__, url_prefix="/api/v1")


@group_buys_bp.get("/group-buys")
@documented("/group-buys", "get", "Open group-buys with their progress (已拼 n/max 样)", CampaignList, errors=())
def list_group_buys():  # type: ignore[no-untyped-def]
    with platform().transaction(write=False) as session:
        out = CampaignList(items=[campaign_out(p) for p in group_buy.open_campaigns(session)])
    return jsonify(out.model_dump(mode="json"))


@group_buys_bp.get("/group-buys/<int:campaign_id>")
@documented("/group-buys/{campaign_id}", "get", "One group-buy and its progress", CampaignOut, errors=(404,))
def get_group_buy(campaign_id: int):  # type: ignore[no-untyped-def]
    with platform().transaction(write=False) as session:
        out = campaign_out(group_buy.progress(session, campaign_id))
    return jsonify(out.model_dump(mode="json"))
