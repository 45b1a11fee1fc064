"""The rules of the annual evaluation of institutions (开放共享评价考核): grade thresholds, subsidy
coefficients, the experts' trimmed mean, the self-report gap that is flagged, the attachment limit and
the indicator tree's file. Every one is a setting because provinces differ; a round keeps a copy of the
rules it was opened under, so changing a setting never changes a round already under way."""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Mapping

GRADES = ("excellent", "good", "pass", "poor")  # 优秀 / 良好 / 合格 / 较差, best first
GRADE_LABELS = {"excellent": "优秀", "good": "良好", "pass": "合格", "poor": "较差"}


@dataclass(frozen=True)
class EvaluationRules:
    tree_file: str | None = None  # EVALUATION_TREE_FILE: a JSON indicator tree replacing the default
    trim_min_experts: int = 5  # with this many experts or more, the highest and lowest score are dropped
    gap_threshold: float = 0.20  # a self-reported figure this far from the measured one is flagged
    grade_excellent: float = 90.0  # a total at or above: 优秀
    grade_good: float = 80.0  # 良好
    grade_pass: float = 60.0  # 合格; below: 较差
    # 以奖代补: an institution's share of the budget is proportional to coefficient x total; 较差 gets 0
    coefficient_excellent: str = "1.0"  # kept as text: the split is computed exactly, to the fen
    coefficient_good: str = "0.8"
    coefficient_pass: str = "0.5"
    attachment_max_bytes: int = 10 * 1024 * 1024  # a self-report's PDF attachment
    attachments_per_report: int = 10
    appeal_days: int = 10  # the appeal window a new round proposes, in days after publication

    def coefficients(self) -> dict[str, str]:
        return {"excellent": self.coefficient_excellent, "good": self.coefficient_good,
                "pass": self.coefficient_pass, "poor": "0"}

    def snapshot(self) -> dict[str, object]:
        """What a round keeps of these rules when it is opened."""
        return {"trim_min_experts": self.trim_min_experts, "gap_threshold": self.gap_threshold,
                "grades": {"excellent": self.grade_excellent, "good": self.grade_good, "pass": self.grade_pass},
                "coefficients": self.coefficients()}


def _number(env: Mapping[str, str], name: str, default: float, minimum: float = 0.0,
            maximum: float = math.inf) -> float:
    raw = (env.get(name) or "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ValueError(f"设置 {name} 须为数字，现为 {raw!r}。") from None
    if not math.isfinite(value) or not minimum <= value <= maximum:
        raise ValueError(f"设置 {name} 须在 {minimum:g} 到 {maximum:g} 之间，现为 {raw!r}。")
    return value


def _coefficient(env: Mapping[str, str], name: str, default: str) -> str:
    raw = (env.get(name) or "").strip() or default
    _number({name: raw}, name, 0.0, maximum=10.0)
    return raw


def load_evaluation_rules(env: Mapping[str, str]) -> EvaluationRules:
    excellent = _number(env, "EVALUATION_GRADE_EXCELLENT", 90.0, maximum=100.0)
    good = _number(env, "EVALUATION_GRADE_GOOD", 80.0, maximum=100.0)
    passing = _number(env, "EVALUATION_GRADE_PASS", 60.0, maximum=100.0)
    if not excellent > good > passing:
        raise ValueError("设置 EVALUATION_GRADE_EXCELLENT > EVALUATION_GRADE_GOOD > EVALUATION_GRADE_PASS 须依次递减。")
    return EvaluationRules(
        tree_file=(env.get("EVALUATION_TREE_FILE") or "").strip() or None,
        trim_min_experts=int(_number(env, "EVALUATION_TRIM_MIN_EXPERTS", 5, minimum=3, maximum=1000)),
        gap_threshold=_number(env, "EVALUATION_GAP_THRESHOLD", 0.20, maximum=10.0),
        grade_excellent=excellent, grade_good=good, grade_pass=passing,
        coefficient_excellent=_coefficient(env, "EVALUATION_COEFFICIENT_EXCELLENT", "1.0"),
        coefficient_good=_coefficient(env, "EVALUATION_COEFFICIENT_GOOD", "0.8"),
        coefficient_pass=_coefficient(env, "EVALUATION_COEFFICIENT_PASS", "0.5"),
        attachment_max_bytes=int(_number(env, "EVALUATION_ATTACHMENT_MAX_MB", 10, minimum=0.1) * 1024 * 1024),
        appeal_days=int(_number(env, "EVALUATION_APPEAL_DAYS", 10, minimum=1, maximum=365)),
    )
