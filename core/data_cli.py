"""`flask data …`: management-by-data files for officials, made by core/services/data."""
from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import click
from flask import current_app

from core.cli_group import PlatformGroup
from core.services.data.national_export import FORMATS, WHATS, as_csv, as_json, national_export
from core.services.people.authz import command_line_actor

data_cli = PlatformGroup("data", help="Management by data: reports and exports for officials.")


def _day(_ctx: click.Context, param: click.Parameter, value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"{value!r} 不是日期，请写成 YYYY-MM-DD，如 2026-01-31。", param=param) from None


@data_cli.command("national-export")
@click.option("--from", "start", required=True, callback=_day, help="First local day, YYYY-MM-DD.")
@click.option("--to", "end", required=True, callback=_day, help="Last local day (included), YYYY-MM-DD.")
@click.option("--what", type=click.Choice(WHATS), required=True, help="The instrument record or the service records.")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="json", show_default=True)
@click.option("--out", type=click.Path(dir_okay=False, writable=True, path_type=Path), help="Default: stdout.")
def national_export_command(start: date, end: date, what: str, fmt: str, out: Path | None) -> None:
    """数据报送: instruments as the national record, or the orders settled in [from, to] as service records."""
    platform = current_app.extensions["platform"]
    with platform.transaction(write=False) as session:
        export = national_export(session, command_line_actor(), what, start, end, platform.settings.orders.timezone)
    data = (as_csv(export) if fmt == "csv"
            else (json.dumps(as_json(export), ensure_ascii=False, indent=2) + "\n").encode("utf-8"))
    if out:
        out.write_bytes(data)
    else:
        click.echo(data, nl=False)  # bytes go to the binary stream as they are (the BOM included)
    kind = "台仪器" if what == "instruments" else "条服务记录"
    click.echo(f"已导出 {len(export.rows)} {kind}（{start} 至 {end}）{'到 ' + str(out) if out else ''}。", err=True)


def _attach() -> None:
    # the reports' commands live beside their own imports (core/report_cli.py); app.py adds backfill-demo (iot/)
    from core.report_cli import idle_report_command, months_command

    data_cli.add_command(idle_report_command)
    data_cli.add_command(months_command)


_attach()
