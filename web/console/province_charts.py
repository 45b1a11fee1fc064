"""The dashboard's province view as ECharts options (None where there is nothing to draw)."""
from __future__ import annotations

from typing import Any

from core.services.data.province import ProvinceView

BAR = 40


def stock_option(view: ProvinceView) -> dict[str, Any] | None:
    if not view.cities:
        return None
    return {
        "tooltip": {"trigger": "axis", "axisPointer": {"type": "shadow"}}, "legend": {"top": 0, "type": "scroll"},
        "grid": {"left": 8, "right": 8, "top": 56, "bottom": 8, "containLabel": True},
        "xAxis": {"type": "category", "data": view.cities, "axisLabel": {"interval": 0, "rotate": 30 if len(view.cities) > 6 else 0}},
        "yAxis": {"type": "value", "name": "台", "minInterval": 1},
        "series": [{"name": major, "type": "bar", "stack": "stock", "barMaxWidth": BAR,
                    "data": [by_city.get(city, 0) for city in view.cities]} for major, by_city in view.by_class_city.items()],
    }


def hours_option(view: ProvinceView) -> dict[str, Any] | None:
    h = view.hours
    if not h.instruments:
        return None
    return {
        "tooltip": {"trigger": "axis", "axisPointer": {"type": "shadow"}}, "legend": {"top": 0},
        "grid": {"left": 8, "right": 8, "top": 48, "bottom": 8, "containLabel": True},
        "xAxis": {"type": "category", "data": ["有效机时", "对外服务机时"]},
        "yAxis": {"type": "value", "name": "小时/台·年"},
        "series": [{"name": "本平台平均", "type": "bar", "barMaxWidth": BAR, "data": [h.effective, h.external],
                    "label": {"show": True, "position": "top"}},
                   {"name": "全国平均（2025 年度考核）", "type": "bar", "barMaxWidth": BAR,
                    "data": [h.national_effective, h.national_external], "label": {"show": True, "position": "top"}}],
    }


def trend_option(view: ProvinceView) -> dict[str, Any] | None:
    if not any(v for _, v in view.vouchers_per_month) and not any(v for _, v in view.unmet_per_month):
        return None
    return {
        "tooltip": {"trigger": "axis"}, "legend": {"top": 0, "data": ["创新券兑付（元）", "未满足需求（条）"]},
        "grid": {"left": 8, "right": 8, "top": 48, "bottom": 8, "containLabel": True},
        "xAxis": {"type": "category", "data": [m for m, _ in view.vouchers_per_month]},
        "yAxis": [{"type": "value", "name": "元"}, {"type": "value", "name": "条", "minInterval": 1, "splitLine": {"show": False}}],
        "series": [{"name": "创新券兑付（元）", "type": "bar", "barMaxWidth": BAR,
                    "data": [round(v / 100, 2) for _, v in view.vouchers_per_month]},
                   {"name": "未满足需求（条）", "type": "line", "yAxisIndex": 1, "showAllSymbol": True, "symbolSize": 7,
                    "data": [v for _, v in view.unmet_per_month]}],
    }


def province_charts(view: ProvinceView) -> dict[str, dict[str, Any] | None]:
    return {"stock": stock_option(view), "hours": hours_option(view), "trend": trend_option(view)}
