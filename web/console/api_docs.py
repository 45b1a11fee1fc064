"""API 文档: Swagger UI (from the npm assets) over /api/v1/openapi.json. Platform admins, and lab staff
and institution admins too: the document itself is public at /api/v1/openapi.json, and the people who
build on the API (the mini-program, a lab's own systems) sit on the lab side as often as ours."""
from __future__ import annotations

from flask import g, render_template, url_for

from web.session import ADMIN_ROLES, LAB_ROLES, requires
from web.console.blueprint import console_bp


@console_bp.get("/api-docs")
@requires(*ADMIN_ROLES, *LAB_ROLES)
def api_docs():  # type: ignore[no-untyped-def]
    # lab users see the workbench's way home instead of console links they may not open
    nav = None if g.user.role in ADMIN_ROLES else [{"label": "← 返回实验室工作台", "href": url_for("workbench.today"),
                                                     "badge": None}]
    extra = {"nav_items": nav} if nav is not None else {}
    return render_template("console/api_docs.html", spec_url=url_for("openapi.openapi_json"), **extra)
