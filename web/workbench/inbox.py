"""消息: the signed-in person's notifications (the same inbox the JSON API and WeChat pushes come from),
newest first, unread marked; read one or all. The unread count is the navigation's badge."""
from __future__ import annotations

from flask import g, redirect, render_template, request, url_for

from core.models import User
from core.services.orders.lab_orders import order_numbers
from core.services.people.notifications import inbox as inbox_of
from core.services.people.notifications import mark_read, unread_count
from core.services.people.read_marks import mark_all_read
from web.session import LAB_ROLES, platform, requires
from web.workbench.blueprint import workbench_bp

PER_PAGE = 30


@workbench_bp.get("/inbox")
@requires(*LAB_ROLES)
def inbox():  # type: ignore[no-untyped-def]
    page = request.args.get("page", "1")
    page_number = int(page) if page.isdigit() and 0 < int(page) < 10_000 else 1
    with platform().transaction(write=False) as session:
        # one more than the page holds tells whether there is a next page
        notes = inbox_of(session, g.user, limit=page_number * PER_PAGE + 1)[(page_number - 1) * PER_PAGE:]
        numbers = order_numbers(session, {n.order_id for n in notes if n.order_id})
        unread = unread_count(session, g.user)
    return render_template("workbench/inbox.html", notes=notes[:PER_PAGE], numbers=numbers, unread=unread,
                           page=page_number, has_next=len(notes) > PER_PAGE)


@workbench_bp.post("/inbox/<int:notification_id>/read")
@requires(*LAB_ROLES)
def inbox_read(notification_id: int):  # type: ignore[no-untyped-def]
    with platform().transaction() as session:
        # someone else's notification is the same 404 as a missing one
        mark_read(session, session.get(User, g.user.id), notification_id)
    return redirect(request.form.get("next") if request.form.get("next", "").startswith("/workbench/")
                    else url_for("workbench.inbox"))


@workbench_bp.post("/inbox/read-all")
@requires(*LAB_ROLES)
def inbox_read_all():  # type: ignore[no-untyped-def]
    with platform().transaction() as session:
        mark_all_read(session, session.get(User, g.user.id))
    return redirect(url_for("workbench.inbox"))
