"""What the pages and the files show of a round: the result table (published, or a live preview before
publication) and each institution's score sheet, indicator by indicator, with the computation of every
data figure and every expert's score and comment (experts anonymous to the institution)."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.errors import NotFound
from core.evaluation_rules import GRADE_LABELS
from core.models import EvaluationEntry, EvaluationRound, Institution
from core.services.data.evaluation_publish import institution_result, preview
from core.services.data.evaluation_rounds import load_entry, load_round, tree_of
from core.services.data.evaluation_scoring import InstitutionResult


@dataclass(frozen=True)
class ResultRow:
    institution_id: int
    code: str
    name: str
    groups: dict[str, float]
    total: float
    grade: str
    rank: int
    subsidy_fen: int
    status: str  # the entry's: open | published | reopened
    version: int

    @property
    def grade_label(self) -> str:
        return GRADE_LABELS.get(self.grade, "—")

    @property
    def rectification(self) -> bool:
        return self.grade == "poor"


@dataclass(frozen=True)
class Standings:
    round: EvaluationRound
    published: bool  # False: a preview computed now, not yet seen by anyone else
    rows: list[ResultRow]
    groups: list[tuple[str, str, float]]  # first-level (key, name, points)
    note: str | None

    @property
    def paid_fen(self) -> int:
        return sum(r.subsidy_fen for r in self.rows)


def _row(result: InstitutionResult, status: str = "open", version: int = 0) -> ResultRow:
    return ResultRow(result.institution_id, result.code, result.name, result.groups, result.total, result.grade,
                     result.rank, result.subsidy_fen, status, version)


def standings(session: Session, round_id: int, tz: str) -> Standings:
    round_ = load_round(session, round_id)
    tree = tree_of(round_)
    groups = [(g.key, g.name, g.points) for g in tree.groups]
    if round_.status != "published":
        results, note = preview(session, round_id, tz)
        return Standings(round_, False, [_row(r) for r in results], groups, note)
    rows = [ResultRow(i.id, i.code, i.name, (e.result or {}).get("groups", {}), e.total or 0.0, e.grade or "poor",
                      e.rank or 0, e.subsidy_fen or 0, e.status, e.version)
            for e, i in session.execute(select(EvaluationEntry, Institution)
                                        .join(Institution, Institution.id == EvaluationEntry.institution_id)
                                        .where(EvaluationEntry.round_id == round_id)
                                        .order_by(EvaluationEntry.rank, Institution.code)).all()]
    return Standings(round_, True, rows, groups, round_.payout_note)


@dataclass(frozen=True)
class ExpertLine:
    label: str  # the expert's name, or 专家 1, 2 … for the institution
    points: float
    comment: str
    dropped: bool  # the highest or lowest score left out of the mean


@dataclass(frozen=True)
class SheetRow:
    group: str
    parent: str
    name: str
    kind: str
    max_points: float
    basis: str
    points: float
    experts: list[ExpertLine] = field(default_factory=list)


@dataclass(frozen=True)
class ScoreSheet:
    round: EvaluationRound
    code: str
    name: str
    rows: list[SheetRow]
    groups: list[tuple[str, float, float]]  # name, points, max
    total: float
    grade: str
    rank: int
    subsidy_fen: int
    published: bool
    figures: dict[str, Any]

    @property
    def grade_label(self) -> str:
        return GRADE_LABELS.get(self.grade, "—")


def _expert_lines(item: dict[str, Any], anonymous: bool) -> list[ExpertLine]:
    scores = item["scores"]
    dropped: set[int] = set()
    if len(item["kept"]) < len(scores):  # one highest and one lowest were left out
        order = sorted(range(len(scores)), key=lambda i: scores[i]["points"])
        dropped = {order[0], order[-1]}
    return [ExpertLine(f"专家 {n + 1}" if anonymous else s["expert"], s["points"], s["comment"], n in dropped)
            for n, s in enumerate(scores)]


def build_sheet(round_: EvaluationRound, code: str, name: str, snapshot: dict[str, Any], standing: Any,
                published: bool, anonymous: bool) -> ScoreSheet:
    tree = tree_of(round_)
    data = {d["key"]: d for d in snapshot["data"]}
    experts = {e["key"]: e for e in snapshot["experts"]}
    group_names = {g.key: g.name for g in tree.groups}
    rows = []
    for leaf in tree.leaves():
        if leaf.kind == "data":
            item = data[leaf.key]
            rows.append(SheetRow(group_names[leaf.group], leaf.parent, leaf.name, "平台数据", leaf.points,
                                 item["explanation"], item["points"]))
        else:
            item = experts[leaf.key]
            n = len(item["scores"])
            basis = (f"{n} 位专家评分，去掉一个最高分和一个最低分后取平均" if len(item["kept"]) < n
                     else f"{n} 位专家评分的平均" if n else "尚无专家签名的评分")
            rows.append(SheetRow(group_names[leaf.group], leaf.parent, leaf.name, "专家评分", leaf.points, basis,
                                 item["points"], _expert_lines(item, anonymous)))
    groups = [(g.name, snapshot["groups"].get(g.key, 0.0), g.points) for g in tree.groups]
    return ScoreSheet(round_, code, name, rows, groups, standing.total, standing.grade or "poor", standing.rank or 0,
                      standing.subsidy_fen or 0, published, snapshot["figures"])


def score_sheet(session: Session, round_id: int, institution_id: int, tz: str, *, anonymous: bool,
                published_only: bool) -> ScoreSheet:
    """The institution's published sheet; before publication (console only) the live preview."""
    round_ = load_round(session, round_id)
    entry = load_entry(session, round_id, institution_id)
    institution = session.get(Institution, institution_id)
    assert institution is not None
    if entry.result is not None:
        return build_sheet(round_, institution.code, institution.name, entry.result, entry, True, anonymous)
    if published_only:
        raise NotFound("本轮评价结果尚未发布。", code="not_published")
    results, _ = preview(session, round_id, tz)
    live = next(r for r in results if r.institution_id == institution_id)
    return build_sheet(round_, institution.code, institution.name, live.snapshot(), live, False, anonymous)


def live_result(session: Session, round_id: int, institution_id: int, tz: str) -> InstitutionResult:
    """One institution's points now, ungraded (the expert's page shows its data figures)."""
    round_ = load_round(session, round_id)
    institution = session.get(Institution, institution_id)
    if institution is None:
        raise NotFound("没有这个机构。", code="institution_not_found")
    return institution_result(session, round_, institution, tz)
