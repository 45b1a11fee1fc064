"""From points to results: the experts' scores of each expert indicator aggregated (the highest and the
lowest dropped once enough experts scored), the weighted total, the grade, the ranking (ties broken by
the tie-break group, 共享服务 by default, then by institution code) and the subsidy split (以奖代补):
the budget shared in proportion to grade coefficient x total, to the fen, by largest remainders.

Pure functions over plain values: the round's services load and store, these compute."""
from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from fractions import Fraction
from typing import Any, Sequence

from core.evaluation_rules import GRADES
from core.services.data.evaluation_indicators import DataScore, Figures, data_scores
from core.services.data.evaluation_tree import Indicator, Tree, round2

NOTHING_PAID = "全部机构评为较差，本轮不发放补助经费。"
NO_WEIGHT = "没有机构的等级系数 × 总分大于 0，本轮不发放补助经费。"


@dataclass(frozen=True)
class ExpertScore:
    expert_id: int
    expert_name: str
    points: float
    comment: str


@dataclass(frozen=True)
class ExpertAggregate:
    leaf: Indicator
    scores: list[ExpertScore]
    kept: list[float]  # the scores averaged (all, or all but the highest and the lowest)
    points: float  # 0 when no expert scored

    @property
    def trimmed(self) -> bool:
        return len(self.kept) < len(self.scores)


def aggregate(points: Sequence[float], trim_min: int) -> tuple[list[float], float]:
    """The kept scores and their mean (half up, two decimals): with at least `trim_min` scores one highest
    and one lowest are dropped; with none the indicator scores 0."""
    values = sorted(points)
    if not values:
        return [], 0.0
    if len(values) >= trim_min:
        values = values[1:-1]
    mean = sum(Decimal(repr(v)) for v in values) / len(values)
    return values, round2(float(mean))


@dataclass
class InstitutionResult:
    institution_id: int
    code: str
    name: str
    figures: Figures
    data: list[DataScore]
    experts: list[ExpertAggregate]
    groups: dict[str, float]  # first-level group key -> its points
    total: float
    tie_score: float
    grade: str = ""
    rank: int = 0
    subsidy_fen: int = 0
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def rectification(self) -> bool:
        return self.grade == "poor"

    def snapshot(self) -> dict[str, Any]:
        """What a published entry keeps (JSON): enough to show and export the score sheet later."""
        return {
            "figures": self.figures.to_dict(),
            "data": [{"key": d.leaf.key, "value": d.value, "points": d.points, "explanation": d.explanation}
                     for d in self.data],
            "experts": [{"key": e.leaf.key, "points": e.points, "kept": e.kept,
                         "scores": [{"expert_id": s.expert_id, "expert": s.expert_name, "points": s.points,
                                     "comment": s.comment} for s in e.scores]} for e in self.experts],
            "groups": self.groups,
        }


def _sum2(values: Sequence[float]) -> float:
    return round2(float(sum(Decimal(repr(v)) for v in values)))


def compose(tree: Tree, institution_id: int, code: str, name: str, figures: Figures,
            expert_scores: dict[str, list[ExpertScore]], trim_min: int) -> InstitutionResult:
    """One institution's points: data leaves from the figures, expert leaves from the signed scores."""
    data = data_scores(tree, figures)
    experts = []
    for leaf in tree.expert_leaves():
        scores = expert_scores.get(leaf.key, [])
        kept, points = aggregate([s.points for s in scores], trim_min)
        experts.append(ExpertAggregate(leaf, scores, kept, points))
    leaf_points = {d.leaf.key: d.points for d in data} | {e.leaf.key: e.points for e in experts}
    groups = {g.key: 0.0 for g in tree.groups}
    for leaf in tree.leaves():
        groups[leaf.group] = _sum2([groups[leaf.group], leaf_points[leaf.key]])
    total = _sum2(list(leaf_points.values()))
    return InstitutionResult(institution_id, code, name, figures, data, experts, groups, total,
                             groups[tree.tie_break])


def grade_of(total: float, thresholds: dict[str, float]) -> str:
    """优秀 / 良好 / 合格 at or above each threshold, 较差 below the last."""
    for grade in GRADES[:-1]:
        if total >= thresholds[grade]:
            return grade
    return GRADES[-1]


def ranking_key(total: float, tie_score: float, code: str) -> tuple[float, float, str]:
    return (-total, -tie_score, code)


def split_subsidy(budget_fen: int, weights: Sequence[tuple[Any, Fraction]]) -> dict[Any, int]:
    """The budget shared in proportion to the weights, in whole fen summing exactly to the budget: each
    gets the floor of its exact share, and the fen left over go one each to the largest remainders (on
    equal remainders, to the one listed first, i.e. ranked higher). All weights 0: nobody gets anything."""
    total = sum((w for _, w in weights), Fraction(0))
    if total == 0:
        return {key: 0 for key, _ in weights}
    shares = {key: Fraction(budget_fen) * w / total for key, w in weights}
    paid = {key: share.numerator // share.denominator for key, share in shares.items()}
    left = budget_fen - sum(paid.values())
    order = sorted(range(len(weights)), key=lambda i: (-(shares[weights[i][0]] - paid[weights[i][0]]), i))
    for i in order[:left]:
        paid[weights[i][0]] += 1
    return paid


def finalise(results: list[Any], budget_fen: int, rules: dict[str, Any]) -> str | None:
    """Grade, rank and subsidy of every result of a round (in place); returns a note when nothing is paid."""
    for result in results:
        result.grade = grade_of(result.total, rules["grades"])
    results.sort(key=lambda r: ranking_key(r.total, r.tie_score, r.code))
    coefficients = rules["coefficients"]
    weights = [(r.institution_id, Fraction(Decimal(coefficients[r.grade])) * Fraction(Decimal(repr(r.total))))
               for r in results]
    split = split_subsidy(budget_fen, weights)
    for rank, result in enumerate(results, start=1):
        result.rank, result.subsidy_fen = rank, split[result.institution_id]
    if results and all(r.grade == "poor" for r in results):
        return NOTHING_PAID
    if results and all(w == 0 for _, w in weights):
        return NO_WEIGHT
    return None
