"""The lab workbench: what lab staff and institution admins of one institution see and do."""
from __future__ import annotations

from flask import Blueprint


def workbench_blueprints() -> list[Blueprint]:
    # every page module of this package adds its routes to the one blueprint when imported
    import importlib
    import pkgutil

    from web.workbench.blueprint import workbench_bp

    for module in pkgutil.iter_modules(__path__):
        importlib.import_module(f"{__name__}.{module.name}")
    return [workbench_bp]
