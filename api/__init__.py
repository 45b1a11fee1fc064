"""Mini-program, lab and admin JSON APIs."""
from __future__ import annotations

from flask import Blueprint

from api.admin import admin_bp
from api.auth import auth_bp
from api.catalog import catalog_bp
from api.companies import companies_bp
from api.errors import register_error_handlers
from api.group_buys import group_buys_bp
from api.health import health_bp
from api.idempotency import register_idempotency
from api.inbox import inbox_bp
from api.limits import register_limits
from api.iot import iot_bp
from api.lab import lab_bp
from api.openapi import openapi_bp
from api.orders import orders_bp
from api.purchase_checks import purchase_checks_bp
from api.reports import reports_bp
from api.search import search_bp
from api.staff_wechat import staff_wechat_bp
from api.vouchers import vouchers_bp


def blueprints() -> list[Blueprint]:
    return [search_bp, catalog_bp, auth_bp, openapi_bp, health_bp, orders_bp, lab_bp, vouchers_bp, group_buys_bp,
            inbox_bp, admin_bp, iot_bp, companies_bp, staff_wechat_bp, reports_bp,
            purchase_checks_bp]


__all__ = ["blueprints", "register_error_handlers", "register_idempotency", "register_limits"]
