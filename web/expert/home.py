"""The expert's landing page: what waits for them across evaluation rounds and purchase checks."""
from __future__ import annotations

from flask import g, render_template

from core.models import Role
from web.expert.blueprint import expert_bp
from web.session import requires

# page modules that have work for the expert register a counter here: (label, href, count(session, user))
WAITING: list = []


@expert_bp.get("/home")
@requires(Role.expert)
def home() -> str:
    from web.session import platform

    with platform().transaction(write=False) as session:
        items = [(label, href, count(session, g.user)) for label, href, count in WAITING]
    return render_template("expert/home.html", items=items)
