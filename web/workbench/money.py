"""财务: what the institution earned per month (the voucher part against the cash part), what the
platform owes and holds for it according to the ledger, the voucher redemption statement, and the
same figures as CSV and XLSX for the period chosen."""
from __future__ import annotations

from datetime import date
from typing import Any, Mapping
from zoneinfo import ZoneInfo

from flask import Response, g, render_template, request

from core.errors import InvalidInput
from core.models._types import utcnow
from core.services.orders.lab_money import MoneyReport, lab_money_report
from core.services.orders.money_export import export_name, money_csv, money_xlsx
from web.session import LAB_ROLES, platform, requires
from web.workbench.blueprint import workbench_bp

LINES_SHOWN = 50  # the page shows the latest settlements; the exports carry all of them
VOUCHER_COLOUR, CASH_COLOUR = "#f0a020", "#1f6feb"
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _date(value: str, name: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise InvalidInput(f"{name}的格式应为 年-月-日，如 2025-03-01。", code="invalid_period") from None


def period_of(args: Mapping[str, str], tz: str) -> tuple[date, date]:
    """?from=&to= (local days); by default the last twelve months up to today."""
    today = utcnow().astimezone(ZoneInfo(tz)).date()
    end = _date(args["to"], "结束日期") if args.get("to") else today
    if args.get("from"):
        return _date(args["from"], "开始日期"), end
    index = end.year * 12 + end.month - 1 - 11
    return date(index // 12, index % 12 + 1, 1), end


def _report() -> MoneyReport:
    p = platform()
    start, end = period_of(request.args, p.settings.orders.timezone)
    with p.transaction(write=False) as session:
        return lab_money_report(session, g.user, start, end, p.settings.orders.timezone)


def _yuan(cents: int) -> float:
    return round(cents / 100, 2)


def charts(report: MoneyReport) -> tuple[dict[str, Any], dict[str, Any]]:
    months = [m.month for m in report.months]
    settled = {
        "tooltip": {"trigger": "axis"}, "legend": {"data": ["结算笔数", "结算金额（元）"], "top": 0},
        "grid": {"left": 50, "right": 60, "top": 40, "bottom": 30},
        "xAxis": {"type": "category", "data": months},
        "yAxis": [{"type": "value", "name": "笔", "minInterval": 1}, {"type": "value", "name": "元"}],
        "series": [{"name": "结算笔数", "type": "bar", "data": [m.orders for m in report.months]},
                   {"name": "结算金额（元）", "type": "line", "yAxisIndex": 1,
                    "data": [_yuan(m.lab_cents) for m in report.months]}],
    }
    split = {
        "tooltip": {"trigger": "axis"}, "legend": {"data": ["创新券部分（元）", "现金部分（元）"], "top": 0},
        "grid": {"left": 60, "right": 20, "top": 40, "bottom": 30},
        "xAxis": {"type": "category", "data": months},
        "yAxis": {"type": "value", "name": "元"},
        "series": [{"name": "创新券部分（元）", "type": "bar", "stack": "结算", "itemStyle": {"color": VOUCHER_COLOUR},
                    "data": [_yuan(m.voucher_cents) for m in report.months]},
                   {"name": "现金部分（元）", "type": "bar", "stack": "结算", "itemStyle": {"color": CASH_COLOUR},
                    "data": [_yuan(m.cash_cents) for m in report.months]}],
    }
    return settled, split


@workbench_bp.get("/money")
@requires(*LAB_ROLES)
def money():  # type: ignore[no-untyped-def]
    report = _report()
    settled_chart, split_chart = charts(report)
    return render_template("workbench/money.html", report=report, settled_chart=settled_chart,
                           split_chart=split_chart, latest=list(reversed(report.lines))[:LINES_SHOWN],
                           lines_shown=LINES_SHOWN, period={"from": report.start.isoformat(),
                                                            "to": report.end.isoformat()})


@workbench_bp.get("/money/export.csv")
@requires(*LAB_ROLES)
def money_export_csv():  # type: ignore[no-untyped-def]
    report = _report()
    name = export_name(report.owed.institution_code, report.start, report.end, "csv")
    return Response(money_csv(report, platform().settings.orders.timezone), content_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f"attachment; filename={name}", "Cache-Control": "no-store"})


@workbench_bp.get("/money/export.xlsx")
@requires(*LAB_ROLES)
def money_export_xlsx():  # type: ignore[no-untyped-def]
    report = _report()
    name = export_name(report.owed.institution_code, report.start, report.end, "xlsx")
    body = money_xlsx(report, report.owed.institution_name, platform().settings.orders.timezone)
    return Response(body, content_type=XLSX_TYPE,
                    headers={"Content-Disposition": f"attachment; filename={name}", "Cache-Control": "no-store"})
