"""`flask data idle-report` and `flask data months`: the idle report and the monthly figures from
the shell (the same services as the console and the scheduled job)."""
from __future__ import annotations

import sys
from pathlib import Path

import click
from flask import current_app

from core.errors import AppError
from core.services.data import idle_report, idle_reports
from core.services.data.monthly_hours import months_of, refresh_months
from core.services.people.authz import command_line_actor


@click.command("idle-report")
@click.option("--from", "start", required=True, help="First month, YYYY-MM (local).")
@click.option("--to", "end", required=True, help="Last month, YYYY-MM (included; must have ended).")
@click.option("--out", type=click.Path(dir_okay=False, writable=True, path_type=Path),
              help="Also write the report as .xlsx or .pdf (by the file's extension).")
@click.option("--notify/--no-notify", default=True, show_default=True, help="Tell the listed institutions' admins.")
def idle_report_command(start: str, end: str, out: Path | None, notify: bool) -> None:
    """闲置仪器通报 for a period: computes its months, freezes them, stores a new version and prints the totals."""
    platform = current_app.extensions["platform"]
    tz = platform.settings.orders.timezone
    kind = out.suffix.lower().lstrip(".") if out else None
    if kind not in (None, "xlsx", "pdf"):
        click.echo("Error: --out 须为 .xlsx 或 .pdf 文件。", err=True)
        sys.exit(2)
    try:
        with platform.transaction() as session:
            report = idle_report.generate(session, start, end, platform.settings.data, tz, "命令行")
            told = idle_reports.notify_institutions(session, report, tz) if notify else 0
            view = idle_reports.view_of(session, command_line_actor(), report)
            data = idle_reports.report_file(report, view, kind, tz) if kind else None
    except AppError as exc:
        click.echo(f"Error: {exc.message}", err=True)
        sys.exit(1)
    totals = view["totals"]
    click.echo(f"闲置仪器通报 {start} 至 {end}（第 {report.version} 版）：列入 {totals['listed']} 台，闲置 {totals['idle']} 台，"
               f"闲置原值 {totals['idle_value_cny'] / 10_000:.2f} 万元；已通知 {told} 位单位管理员。")
    for city in totals["by_city"]:
        click.echo(f"  {city['city'] or '未填城市'}：闲置 {city['idle']}/{city['listed']} 台，{city['idle_value_cny'] / 10_000:.2f} 万元")
    if out and data is not None:
        out.write_bytes(data)
        click.echo(f"已写入 {out}", err=True)


@click.command("months")
@click.option("--from", "start", required=True, help="First month, YYYY-MM.")
@click.option("--to", "end", default=None, help="Last month (default: the first).")
def months_command(start: str, end: str | None) -> None:
    """Recompute the stored monthly machine-hours (有效/对外/定额机时, income) of every instrument."""
    platform = current_app.extensions["platform"]
    try:
        months = months_of(start, end or start)
        with platform.transaction() as session:
            rows = refresh_months(session, months, platform.settings.data, platform.settings.orders.timezone)
    except AppError as exc:
        click.echo(f"Error: {exc.message}", err=True)
        sys.exit(1)
    click.echo(f"已计算 {len(months)} 个月、{rows} 条仪器月度机时。")
