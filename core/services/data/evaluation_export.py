"""The round's files: the result table and each institution's score sheet, as XLSX and Chinese PDF
(core/services/data/documents.py). Money in CNY with two decimals, times in PLATFORM_TIMEZONE."""
from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from core.evaluation_rules import GRADE_LABELS
from core.models import EvaluationRound
from core.services.data.documents import Sheet, pdf, xlsx
from core.services.data.evaluation_rounds import tree_of
from core.services.data.evaluation_sheets import ScoreSheet, Standings

XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
PDF_TYPE = "application/pdf"


def _yuan(fen: int) -> str:
    return f"{fen / 100:.2f}"


def _when(moment: datetime | None, tz: str) -> str:
    return moment.astimezone(ZoneInfo(tz)).strftime("%Y-%m-%d %H:%M") if moment else "—"


def _rules_facts(round_: EvaluationRound) -> list[str]:
    rules = round_.rules
    grades = rules["grades"]  # type: ignore[index]
    coefficients = rules["coefficients"]  # type: ignore[index]
    return [
        f"等级：总分 ≥ {grades['excellent']:g} 优秀，≥ {grades['good']:g} 良好，"  # type: ignore[index]
        f"≥ {grades['pass']:g} 合格，其余较差；"  # type: ignore[index]
        f"总分相同时按{tree_of(round_).tie_break_name}得分排序，再按机构代码。",
        "补助系数：" + "，".join(f"{GRADE_LABELS[g]} {c}" for g, c in coefficients.items())  # type: ignore[attr-defined]
        + "；补助按 等级系数 × 总分 的比例分配预算，精确到分（最大余数法）；较差不安排补助并整改一年。",
        f"专家评分：{rules['trim_min_experts']} 位及以上专家评分时去掉一个最高分和一个最低分后取平均，否则取平均。",
    ]


def results_document(table: Standings, tz: str) -> tuple[str, list[str], list[Sheet]]:
    round_ = table.round
    state = (f"发布时间 {_when(round_.published_at, tz)}；申诉截止 {round_.appeal_deadline}" if table.published
             else f"预览（尚未发布），生成于 {_when(datetime.now(ZoneInfo(tz)), tz)}")
    facts = [f"评价年度：{round_.year}；{state}（{tz} 时间）。",
             f"补助经费预算 ¥{_yuan(round_.budget_fen)}，已分配 ¥{_yuan(table.paid_fen)}。"] + _rules_facts(round_)
    if table.note:
        facts.append(table.note)
    header = ["排名", "机构代码", "机构名称"] + [f"{name}（{points:g}）" for _, name, points in table.groups] + \
        ["总分", "等级", "补助经费（元）", "整改"]
    rows = [[r.rank, r.code, r.name] + [r.groups.get(key, 0.0) for key, _, _ in table.groups] +
            [r.total, r.grade_label, _yuan(r.subsidy_fen), "须整改一年" if r.rectification else ""]
            for r in table.rows]
    widths = [0.6, 1.2, 3.0] + [1.2] * len(table.groups) + [1.0, 0.8, 1.4, 1.2]
    return f"{round_.title} 评价结果", facts, [Sheet("评价结果", header, rows, widths)]


def sheet_document(sheet: ScoreSheet, tz: str) -> tuple[str, list[str], list[Sheet]]:
    round_ = sheet.round
    state = (f"已发布（{_when(round_.published_at, tz)}）" if sheet.published else "预览（尚未发布）")
    facts = [f"机构：{sheet.name}（{sheet.code}）；评价年度 {round_.year}；{state}。",
             f"总分 {sheet.total:.2f}，等级 {sheet.grade_label}，排名第 {sheet.rank} 名，补助经费 ¥{_yuan(sheet.subsidy_fen)}"
             + ("，须整改一年。" if sheet.grade == "poor" else "。"),
             "；".join(f"{name} {points:.2f} / {top:g}" for name, points, top in sheet.groups) + "。"] + \
        _rules_facts(round_)
    summary = Sheet("得分", ["一级指标", "二级指标", "考核指标", "方式", "分值", "计算依据", "得分"],
                    [[r.group, r.parent, r.name, r.kind, r.max_points, r.basis, r.points] for r in sheet.rows],
                    [1.0, 1.6, 1.6, 0.8, 0.6, 4.0, 0.6])
    details = Sheet("专家评分", ["考核指标", "专家", "评分", "是否计入", "评语"],
                    [[r.name, e.label, e.points, "去掉（最高或最低）" if e.dropped else "计入", e.comment]
                     for r in sheet.rows for e in r.experts], [1.4, 0.8, 0.6, 1.0, 5.0])
    return f"{round_.title} 评分表：{sheet.name}", facts, [summary, details]


def render(document: tuple[str, list[str], list[Sheet]], kind: str) -> tuple[bytes, str]:
    """(file bytes, MIME type) of a document as XLSX or PDF."""
    title, facts, sheets = document
    if kind == "xlsx":
        return xlsx(title, facts, sheets), XLSX_TYPE
    return pdf(title, facts, sheets), PDF_TYPE
