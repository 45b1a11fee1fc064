"""Mini-program, lab and admin JSON APIs."""
from __future__ import annotations

from flask import Blueprint

from api.auth import auth_bp
from api.catalog import catalog_bp
from api.errors import register_error_handlers
from api.health import health_bp
from api.openapi import openapi_bp
from api.search import search_bp


def blueprints() -> list[Blueprint]:
    return [search_bp, catalog_bp, auth_bp, openapi_bp, health_bp]


__all__ = ["blueprints", "register_error_handlers"]
