"""新购查重: every institution's requests to buy a large instrument, with their status, draft opinion and the
experts' conclusion; each request's evidence and quotations (?id=, ?quotation=)."""
from __future__ import annotations

from typing import Any

from flask import g, render_template, request, url_for

from core.services.data.purchase_check import requests_for, viewable_request
from web.console.blueprint import console_bp
from web.session import ADMIN_ROLES, platform, requires
from web.workbench.purchases import labels, quotation_download, request_id_arg, requester


@console_bp.get("/purchases")
@requires(*ADMIN_ROLES)
def purchases():  # type: ignore[no-untyped-def]
    request_id = request_id_arg()
    if request_id is not None:
        return quotation_download(request_id) or _detail(request_id)
    status = request.args.get("status") or ""
    with platform().transaction(write=False) as session:
        rows = [(r, requester(session, r)) for r in requests_for(session, g.user, status or None)]
        return render_template("console/purchases.html", rows=rows, status=status, **labels())


def _detail(request_id: int) -> Any:
    with platform().transaction(write=False) as session:
        found = viewable_request(session, g.user, request_id)
        return render_template("console/purchases_detail.html", found=found, institution=requester(session, found),
                               quotation_url=lambda n: url_for("console.purchases", id=request_id, quotation=n),
                               **labels())
