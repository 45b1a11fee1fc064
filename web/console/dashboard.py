"""数据看板: the platform at a glance, each chart drawn from the platform's own records (figures from
core/services/data/dashboard.py; this module only turns them into ECharts options with Chinese labels)."""
from __future__ import annotations

from typing import Any, Sequence

from flask import render_template

from core.services.data.dashboard import CitySharing, Dashboard, SearchDay, dashboard as dashboard_figures
from core.services.orders.stats import MonthFigures, Ranked, VoucherTotals
from core.services.data.province import province_view
from web.console.blueprint import console_bp
from web.console.province_charts import province_charts
from web.session import ADMIN_ROLES, platform, requires

STATE_LABELS = {"on": "运行", "standby": "待机", "off": "关机", "offline": "离线"}
STATE_COLOURS = {"on": "#198754", "standby": "#fd7e14", "off": "#6c757d", "offline": "#dc3545"}
LABEL = {"width": 150, "overflow": "truncate"}  # long service names must not squeeze the bars on a phone
BAR = 40  # the widest a bar gets: one month or two cities must not fill the card


def _yuan(cents: int) -> float:
    return round(cents / 100, 2)


def orders_option(months: Sequence[MonthFigures]) -> dict[str, Any] | None:
    if not months:
        return None
    return {
        "tooltip": {"trigger": "axis"}, "legend": {"top": 0, "data": ["订单数", "成交额（元）"]},
        "grid": {"left": 8, "right": 8, "top": 48, "bottom": 8, "containLabel": True},
        "xAxis": {"type": "category", "data": [m.month for m in months]},
        "yAxis": [{"type": "value", "name": "订单"}, {"type": "value", "name": "元"}],
        "series": [{"name": "订单数", "type": "bar", "barMaxWidth": BAR, "data": [m.orders for m in months]},
                   {"name": "成交额（元）", "type": "line", "yAxisIndex": 1, "symbolSize": 8,
                    "data": [_yuan(m.turnover_cents) for m in months]}],
    }


def ranking_option(items: Sequence[Ranked]) -> dict[str, Any] | None:
    if not items:
        return None
    shown = list(reversed(items))  # a category axis runs bottom-up: the first place goes on top
    return {
        "tooltip": {"trigger": "axis", "axisPointer": {"type": "shadow"}},
        "legend": {"top": 0, "data": ["成交额（元）", "订单数"]},
        "grid": {"left": 8, "right": 16, "top": 64, "bottom": 8, "containLabel": True},
        "xAxis": [{"type": "value", "name": "元", "position": "bottom"},
                  {"type": "value", "name": "单", "position": "top", "minInterval": 1, "splitLine": {"show": False}}],
        "yAxis": {"type": "category", "data": [r.name for r in shown], "axisLabel": LABEL},
        "series": [{"name": "成交额（元）", "type": "bar", "xAxisIndex": 0, "barMaxWidth": BAR,
                    "data": [_yuan(r.turnover_cents) for r in shown]},
                   {"name": "订单数", "type": "bar", "xAxisIndex": 1, "barMaxWidth": BAR,
                    "data": [r.orders for r in shown]}],
    }


def searches_option(days: Sequence[SearchDay] | None) -> dict[str, Any] | None:
    if not days or not any(d.searches for d in days):
        return None
    return {
        "tooltip": {"trigger": "axis"}, "legend": {"top": 0, "data": ["搜索次数", "无结果占比（%）"]},
        "grid": {"left": 8, "right": 8, "top": 48, "bottom": 8, "containLabel": True},
        "xAxis": {"type": "category", "data": [d.day.strftime("%m-%d") for d in days]},
        "yAxis": [{"type": "value", "name": "次", "minInterval": 1},
                  {"type": "value", "name": "%", "min": 0, "max": 100, "splitLine": {"show": False}}],
        "series": [{"name": "搜索次数", "type": "bar", "barMaxWidth": BAR, "data": [d.searches for d in days]},
                   {"name": "无结果占比（%）", "type": "line", "yAxisIndex": 1, "connectNulls": True,
                    "showAllSymbol": True, "symbolSize": 7,  # a lone day's point must show on a narrow axis
                    "data": [round(100 * d.empty / d.searches, 1) if d.searches else None for d in days]}],
    }


def states_option(states: dict[str, int]) -> dict[str, Any] | None:
    if not any(states[key] for key in STATE_LABELS):
        return None
    return {
        "tooltip": {"trigger": "item", "formatter": "{b}：{c} 台（{d}%）"}, "legend": {"bottom": 0},
        # labels inside the ring: outside ones are cut to "运…" on a phone
        "series": [{"name": "仪器状态", "type": "pie", "radius": ["28%", "72%"], "center": ["50%", "45%"],
                    "label": {"position": "inside", "formatter": "{b}\n{c} 台", "color": "#fff", "fontWeight": "bold"},
                    "data": [{"name": label, "value": states[key], "itemStyle": {"color": STATE_COLOURS[key]}}
                             for key, label in STATE_LABELS.items() if states[key]]}],  # no label for an empty slice
    }


def vouchers_option(totals: VoucherTotals) -> dict[str, Any] | None:
    if not totals.approved_cents:
        return None
    bars = [("已批准", totals.approved_cents, "#0d6efd"), ("已预留", totals.reserved_cents, "#ffc107"),
            ("已核销", totals.consumed_cents, "#198754"), ("可用余额", totals.available_cents, "#6c757d")]
    return {
        "tooltip": {"trigger": "axis", "axisPointer": {"type": "shadow"}},
        "grid": {"left": 8, "right": 8, "containLabel": True},
        "xAxis": {"type": "category", "data": [name for name, _, _ in bars]},
        "yAxis": {"type": "value", "name": "元"},
        "series": [{"name": "金额（元）", "type": "bar", "barMaxWidth": BAR * 2, "label": {"show": True, "position": "top"},
                    "data": [{"value": _yuan(cents), "itemStyle": {"color": colour}} for _, cents, colour in bars]}],
    }


def sharing_option(cities: Sequence[CitySharing]) -> dict[str, Any] | None:
    rated = [c for c in cities if c.rate is not None]
    if not rated:
        return None
    return {
        "tooltip": {"trigger": "axis", "axisPointer": {"type": "shadow"}},
        "grid": {"left": 8, "right": 8, "containLabel": True},
        "xAxis": {"type": "category", "data": [c.city for c in rated]},
        "yAxis": {"type": "value", "name": "%", "min": 0, "max": 100},
        "series": [{"name": "共享率（%）", "type": "bar", "barMaxWidth": BAR * 2,
                    "label": {"show": True, "position": "top", "formatter": "{c}%"},
                    "data": [round(100 * (c.rate or 0), 1) for c in rated]}],
    }


def charts_of(figures: Dashboard) -> dict[str, dict[str, Any] | None]:
    """Chart id -> its ECharts option, None where there is nothing to draw (the page says 暂无数据)."""
    return {
        "orders": orders_option(figures.months),
        "services": ranking_option(figures.top_services),
        "institutions": ranking_option(figures.top_institutions),
        "searches": searches_option(figures.searches),
        "states": states_option(figures.states),
        "vouchers": vouchers_option(figures.vouchers),
        "sharing": sharing_option(figures.sharing),
    }


@console_bp.get("/")
@console_bp.get("/dashboard")
@requires(*ADMIN_ROLES)
def dashboard():  # type: ignore[no-untyped-def]
    p = platform()
    with p.transaction(write=False) as session:
        figures = dashboard_figures(session, p.redis, p.settings.orders.timezone)
        province = province_view(session, p.settings.data, p.settings.orders.timezone)
    searched = sum(d.searches for d in figures.searches or [])
    empty = sum(d.empty for d in figures.searches or [])
    return render_template("console/dashboard.html", figures=figures, charts={**charts_of(figures), **province_charts(province)},
                           province=province,
                           searched=searched, empty=empty, state_labels=STATE_LABELS)
