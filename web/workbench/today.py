"""今日待办: what the institution's staff must act on, each with its count and a link to those orders."""
from __future__ import annotations

from flask import g, render_template

from core.models._types import local_today
from core.services.orders.todo import lab_todos
from web.session import LAB_ROLES, platform, requires
from web.workbench.blueprint import workbench_bp


@workbench_bp.get("/")
@workbench_bp.get("/today")
@requires(*LAB_ROLES)
def today():  # type: ignore[no-untyped-def]
    timezone = platform().settings.orders.timezone
    with platform().transaction(write=False) as session:
        todos = lab_todos(session, g.user.institution_id, timezone)
    return render_template("workbench/today.html", todos=todos, today=local_today(timezone))
