"""数据看板: the platform at a glance, drawn from the platform's own orders."""
from __future__ import annotations

from flask import render_template

from core.services.orders.stats import orders_per_month
from web.session import ADMIN_ROLES, platform, requires
from web.console.blueprint import console_bp


@console_bp.get("/")
@console_bp.get("/dashboard")
@requires(*ADMIN_ROLES)
def dashboard():  # type: ignore[no-untyped-def]
    with platform().transaction(write=False) as session:
        months = orders_per_month(session, platform().settings.orders.timezone)
    option = {
        "tooltip": {"trigger": "axis"}, "legend": {"data": ["订单数", "成交额（元）"]},
        "xAxis": {"type": "category", "data": [m.month for m in months]},
        "yAxis": [{"type": "value", "name": "订单"}, {"type": "value", "name": "元"}],
        "series": [{"name": "订单数", "type": "bar", "data": [m.orders for m in months]},
                   {"name": "成交额（元）", "type": "line", "yAxisIndex": 1,
                    "data": [round(m.turnover_cents / 100, 2) for m in months]}],
    }
    return render_template("console/dashboard.html", months=months, orders_chart=option)
