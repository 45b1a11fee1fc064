"""The platform console: what platform administrators see and do across every institution."""
from __future__ import annotations

from flask import Blueprint


def console_blueprints() -> list[Blueprint]:
    # every page module of this package adds its routes to the one blueprint when imported
    import importlib
    import pkgutil

    from web.console.blueprint import console_bp

    for module in pkgutil.iter_modules(__path__):
        importlib.import_module(f"{__name__}.{module.name}")
    return [console_bp]
