"""`flask data backfill-demo`: a year of simulated history for the demo, so that the management reports
(monthly figures, idle reports, evaluation, purchase check) have something to say on a fresh demo.
The work is core/services/data/demo_backfill.py; this command lives in iot/ because it hands core the IoT
tracker's replay (core's services take it as an argument and never import iot); app.py puts it in the
`flask data` group."""
from __future__ import annotations

import time
from collections import Counter
from contextlib import contextmanager
from functools import partial
from typing import Iterator

import click
from flask import current_app
from flask.cli import with_appcontext

from core.cli_group import CommandFailed
from core.errors import AppError
from core.evaluation_rules import GRADE_LABELS
from core.report_storage import LocalReportStorage
from core.services.data.demo_backfill import BackfillSummary, UnbalancedHistory, backfill
from core.services.data.demo_history import SATURATED_HOURS_YEAR, Progress
from core.services.data.demo_round import DemoRoundSummary
from iot.history_replay import replay_history
from iot.rules import rules_from_settings

USAGE_LABELS = {"saturated": "饱和", "moderate": "常规使用", "low": "低使用", "idle": "闲置"}
OUTCOME_LABELS = {"settled": "已结算", "auto": "自动确认后结算", "dispute_release": "争议后放款",
                  "dispute_partial": "争议后部分退款", "dispute_refund": "争议后全额退款", "cancel_free": "接单前取消",
                  "cancel_late": "接单后取消", "reject": "拒单", "no_show": "预约未到"}


@contextmanager
def _bar(label: str, total: int) -> Iterator[Progress]:
    with click.progressbar(length=max(1, total), label=label, show_eta=True) as bar:
        yield bar


def _evaluation_line(e: DemoRoundSummary) -> str:
    if e.skipped or not e.institutions:
        line = e.skipped or "没有可参评的机构，未建演示评价。"
    else:
        grades = Counter(GRADE_LABELS[grade] for _, _, _, grade, _ in e.institutions)
        line = (f"{e.year} 年度评价已发布：{len(e.institutions)} 家机构（"
                + "，".join(f"{k} {v}" for k, v in grades.items()) + f"），{e.experts} 位专家评分签名"
                + (f"（回避 {e.conflicts} 项）" if e.conflicts else "")
                + f"，补助 ¥{sum(fen for *_, fen in e.institutions) / 100:,.2f}"
                + (f"；{e.flagged} 自评机时与平台监测差距超过阈值" if e.flagged else "") + "。")
    waiting = sum(1 for _, status, _ in e.purchases if status == "submitted")
    return line + f"新购查重申请 {len(e.purchases)} 个，其中待专家评议 {waiting} 个（专家账号 expert1–expert5，密码 demo-expert-2026）。"


def _report(summary: BackfillSummary, seconds: float) -> None:
    w = summary.window
    head = f"演示历史：{w.months[0]} 至 {w.months[-1]}（{len(w.months)} 个月）"
    if summary.already:
        click.echo(f"{head}。{summary.already}")
        return
    p = summary.profiles
    usage = "，".join(f"{label} {p[k]}" for k, label in USAGE_LABELS.items() if p[k])
    click.echo(f"{head}，{sum(p[k] for k in USAGE_LABELS)} 台仪器：{usage}；未接入传感器 {p['sensor:none']} 台，"
               f"传感器数周无数据 {p['sensor:silent']} 台。")
    if summary.removed_live:
        click.echo(f"已移除模拟期之后的 {summary.removed_live} 段实时状态记录（演示模拟器写的，历史写在它们之前）。")
    done = sorted(((k, v) for k, v in summary.orders.items() if not k.startswith("skipped:")), key=lambda kv: -kv[1])
    skipped = {k.split(":", 1)[1]: v for k, v in summary.orders.items() if k.startswith("skipped:")}
    kinds = "，".join(f"{OUTCOME_LABELS.get(k, k)} {v}" for k, v in done)
    if skipped:
        kinds += f"；{sum(skipped.values())} 个被服务拒绝而跳过：" + "，".join(f"{k} {v}" for k, v in skipped.items())
    click.echo(f"传感器状态记录 {summary.intervals} 段；订单 {sum(v for _, v in done)} 个"
               + (f"（{kinds}）" if kinds else "") + f"，评价 {summary.ratings} 条；自报机时 {summary.self_reports} 条。")
    if not summary.bookable:
        click.echo("目录里没有可预约的服务（机构或服务尚未通过入网审核），所以没有订单；"
                   "演示目录请用 flask catalog import --approve 导入。")
    for period_from, period_to, listed, idle in summary.idle_reports:
        click.echo(f"闲置仪器通报 {period_from} 至 {period_to}：列入 {listed} 台，其中闲置 {idle} 台。")
    if summary.evaluation is not None:
        click.echo(_evaluation_line(summary.evaluation))
    click.echo(f"有效机时达 {SATURATED_HOURS_YEAR:g} 小时/年的仪器 {len(summary.saturated)} 台，"
               f"模拟期内零机时 {len(summary.zero_hours)} 台；账目平衡。用时 {seconds:.0f} 秒。")


@click.option("--months", default=12, show_default=True, help="Full months to simulate, ending with the last one.")
@click.option("--seed", default=1, show_default=True, help="Same seed, same history.")
@click.option("--instruments", type=int, default=None, help="Only a seeded sample of this many instruments.")
@click.option("--force", is_flag=True, help="Rebuild an earlier demo history (refused if real orders exist).")
@with_appcontext
def backfill_demo(months: int, seed: int, instruments: int | None, force: bool) -> None:
    """Simulate the last full months of the demo catalog: sensor states, orders, 自报 hours, reports."""
    platform = current_app.extensions["platform"]
    settings = platform.settings
    started = time.monotonic()
    try:
        with platform.transaction() as session:
            summary = backfill(session, settings, months=months, seed=seed, instruments=instruments, force=force,
                               sensor_replay=partial(replay_history, rules=rules_from_settings(platform)),
                               storage=LocalReportStorage(settings.reports_dir), progress=_bar,
                               encoder=lambda: current_app.extensions["search"].encoder)
    except AppError as exc:
        raise CommandFailed(exc.message) from None
    except UnbalancedHistory as exc:  # loud: exit 1 with what does not add up (nothing was committed)
        raise CommandFailed(str(exc)) from None
    _report(summary, time.monotonic() - started)


backfill_demo_command = click.command("backfill-demo")(backfill_demo)
