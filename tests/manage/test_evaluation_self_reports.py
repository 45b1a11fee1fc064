"""The institution's self-report: its figures beside the platform's with gaps over 20 % flagged, PDF
attachments kept under DATA_DIR, and a non-PDF, an oversized file, a NaN or a boolean refused in Chinese
with nothing written (no row, no file)."""
from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select

from core.errors import BusinessRuleViolation, Forbidden, InvalidInput, PayloadTooLarge
from core.models import EvaluationSelfReport, Role
from core.report_storage import LocalReportStorage
from core.services.data.evaluation_indicators import measure
from core.services.data.evaluation_self_reports import attachments_dir, gaps, self_report_of, submit_self_report
from tests.manage.evaluation_world import YEAR, World

PDF = b"%PDF-1.4\n" + b"0" * 1000 + b"\n%%EOF\n"
GOOD = {"effective_hours": "1850", "external_hours": "460.5", "instruments_open": "2", "external_income": "12000.00"}


@pytest.fixture
def world(app: Flask) -> World:
    return World(app)


@pytest.fixture
def setup(world: World) -> dict[str, Any]:
    """甲 measured: 1500 h effective, 420 h external, 2 instruments open, ¥12,000 external income."""
    inst = world.institution("EV-S", "甲研究院")
    i1, i2 = world.instrument(inst, "EV-S-1"), world.instrument(inst, "EV-S-2")
    for m in range(1, 13):
        world.month(i1, f"{YEAR}-{m:02d}", effective=100, quota=100, external=30, income_external_fen=100_000)
    for m in range(7, 13):
        world.month(i2, f"{YEAR}-{m:02d}", effective=50, quota=100, external=10)
    head = world.user(Role.institution_admin, "甲管理员", inst)
    return {"inst": inst, "head": head, "round": world.open([inst]), "staff": world.user(Role.lab_staff, "甲职员", inst)}


def submit(world: World, s: dict[str, Any], figures: dict[str, Any], files: list[tuple[str, bytes]],
           who: str = "head", today: Any = None) -> None:
    with world.session() as session:
        submit_self_report(session, world.get(session, s[who]), s["round"], figures, "本年度共享情况良好。", files,
                           LocalReportStorage(attachments_dir(world.settings)), world.settings, today or world.today())


def stored_files(world: World) -> list[Path]:
    root = attachments_dir(world.settings)
    return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []


def test_self_reported_figures_beside_the_measured_ones_with_gaps_over_20_percent_flagged(
        world: World, setup: dict[str, Any]) -> None:
    s = setup
    submit(world, s, GOOD, [("自评报告.pdf", PDF)])
    with world.session() as session:
        report = self_report_of(session, s["round"], s["inst"])
        rows = {g.label: g for g in gaps(report, measure(session, s["inst"], YEAR, "Asia/Shanghai"), 0.20)}
    # 1850 against 1500 h: +23.3 %, flagged; 460.5 against 420 h: +9.6 %; 2 = 2; ¥12,000 = ¥12,000
    assert (rows["有效工作机时"].gap_text, rows["有效工作机时"].flagged) == ("+23.3%", True)
    assert (rows["对外服务机时"].gap_text, rows["对外服务机时"].flagged) == ("+9.6%", False)
    assert (rows["开放共享仪器"].gap_text, rows["开放共享仪器"].flagged) == ("+0.0%", False)
    assert (rows["对外服务收入"].reported, rows["对外服务收入"].measured, rows["对外服务收入"].flagged) == (12000, 12000, False)
    assert report is not None and report.attachments[0]["name"] == "自评报告.pdf"
    assert [p.read_bytes() for p in stored_files(world)] == [PDF]


def test_exactly_20_percent_is_not_flagged_and_a_figure_the_platform_lacks_is(world: World, setup: dict[str, Any]) -> None:
    s = setup
    submit(world, s, {**GOOD, "effective_hours": 1200, "external_hours": 504}, [])  # -20 %, +20 %
    empty = world.institution("EV-S0")
    with world.session() as session:
        report = self_report_of(session, s["round"], s["inst"])
        figures = measure(session, s["inst"], YEAR, "Asia/Shanghai")
        rows = {g.label: g for g in gaps(report, figures, 0.20)}
        assert not rows["有效工作机时"].flagged and not rows["对外服务机时"].flagged
        nothing = {g.label: g for g in gaps(report, measure(session, empty, YEAR, "Asia/Shanghai"), 0.20)}
    assert nothing["有效工作机时"].gap_text == "平台无数据" and nothing["有效工作机时"].flagged


@pytest.mark.parametrize("figures, files, error, message", [
    ({**GOOD, "effective_hours": "NaN"}, [("a.pdf", PDF)], InvalidInput, "有效工作机时须为有限的数字"),
    ({**GOOD, "external_hours": True}, [("a.pdf", PDF)], InvalidInput, "对外服务机时须为数字"),
    ({**GOOD, "instruments_open": "2.5"}, [("a.pdf", PDF)], InvalidInput, "开放共享仪器台数须为整数"),
    ({**GOOD, "external_income": "-1"}, [("a.pdf", PDF)], InvalidInput, "对外服务收入（元）不能小于 0"),
    (GOOD, [("a.pdf", PDF), ("scan.pdf", b"\x89PNG\r\n\x1a\n....")], InvalidInput, "附件“scan.pdf”不是 PDF 文件"),
    (GOOD, [("big.pdf", b"%PDF-1.4\n" + b"0" * (10 * 1024 * 1024))], PayloadTooLarge, "附件“big.pdf”超过 10 MB"),
])
def test_bad_input_is_refused_and_nothing_is_written(world: World, setup: dict[str, Any], figures: dict[str, Any],
                                                     files: list[tuple[str, bytes]], error: type, message: str) -> None:
    with pytest.raises(error) as refused:
        submit(world, setup, figures, files)
    assert message in refused.value.message
    with world.session() as session:
        assert session.scalar(select(func.count(EvaluationSelfReport.id))) == 0
    assert stored_files(world) == []


def test_only_the_institution_admin_before_the_deadline(world: World, setup: dict[str, Any]) -> None:
    s = setup
    with pytest.raises(Forbidden):
        submit(world, s, GOOD, [], who="staff")
    with pytest.raises(BusinessRuleViolation) as late:
        submit(world, s, GOOD, [], today=world.today() + timedelta(days=11))
    assert "自评报告已于" in late.value.message and "截止" in late.value.message
    submit(world, s, GOOD, [("一.pdf", PDF)])
    submit(world, s, {**GOOD, "effective_hours": "1500"}, [("二.pdf", PDF + b"2"), ("一.pdf", PDF)])  # again: replaced
    with world.session() as session:
        report = self_report_of(session, s["round"], s["inst"])
        assert report is not None and report.effective_hours == 1500
        assert [a["name"] for a in report.attachments] == ["一.pdf", "二.pdf"]  # the same file is kept once
