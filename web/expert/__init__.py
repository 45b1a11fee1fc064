"""The experts' desk: what an evaluation expert scores and the purchase requests they conclude on."""
from __future__ import annotations

from flask import Blueprint


def expert_blueprints() -> list[Blueprint]:
    # every page module of this package adds its routes to the one blueprint when imported
    import importlib
    import pkgutil

    from web.expert.blueprint import expert_bp

    for module in pkgutil.iter_modules(__path__):
        importlib.import_module(f"{__name__}.{module.name}")
    return [expert_bp]
