"""Aggregation, grades, the tie rule and the subsidy split, as pure computations: the highest and lowest
expert scores are dropped with 5 experts and not with 4; equal totals are ranked by the 共享服务 score,
then by code; the split always adds up to the budget to the fen, 较差 never gets any of it, and when
everyone is 较差 nothing is paid and the round says so."""
from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

from hypothesis import given, settings as hypothesis_settings, strategies as st

from core.evaluation_rules import EvaluationRules
from core.services.data.evaluation_scoring import NOTHING_PAID, aggregate, finalise, grade_of, split_subsidy

RULES = EvaluationRules().snapshot()


@dataclass
class Entry:
    institution_id: int
    code: str
    total: float
    tie_score: float
    grade: str = ""
    rank: int = 0
    subsidy_fen: int = 0


def test_five_experts_lose_the_highest_and_lowest_four_are_averaged() -> None:
    kept, mean = aggregate([10, 2, 7, 6, 8], trim_min=5)
    assert kept == [6, 7, 8] and mean == 7.0  # 2 and 10 dropped
    kept, mean = aggregate([10, 2, 7, 6], trim_min=5)
    assert kept == [2, 6, 7, 10] and mean == 6.25
    assert aggregate([8.5, 9, 9.25], trim_min=5) == ([8.5, 9, 9.25], 8.92)  # 8.9166… half up
    assert aggregate([], trim_min=5) == ([], 0.0)
    assert aggregate([3, 3, 3, 9], trim_min=4)[1] == 3.0  # the threshold is a setting


def test_grades_at_the_thresholds() -> None:
    grades = RULES["grades"]
    assert [grade_of(t, grades) for t in (100, 90, 89.99, 80, 79.99, 60, 59.99, 0)] == [
        "excellent", "excellent", "good", "good", "pass", "pass", "poor", "poor"]


def test_equal_totals_are_ranked_by_the_sharing_score_then_by_code() -> None:
    entries = [Entry(1, "C-3", 85.0, 30.0), Entry(2, "B-2", 85.0, 35.0), Entry(3, "A-1", 85.0, 30.0),
               Entry(4, "D-4", 91.0, 10.0)]
    finalise(entries, 1_000_000, RULES)
    assert [(e.code, e.rank) for e in entries] == [("D-4", 1), ("B-2", 2), ("A-1", 3), ("C-3", 4)]


def test_the_budget_is_split_by_coefficient_times_score() -> None:
    # weights 1.0 x 95 = 95, 0.8 x 85 = 68, 0.5 x 70 = 35, 0 x 50 = 0 -> 198 in all
    entries = [Entry(1, "A", 95.0, 0), Entry(2, "B", 85.0, 0), Entry(3, "C", 70.0, 0), Entry(4, "D", 50.0, 0)]
    note = finalise(entries, 1_000_000_00, RULES)  # ¥1,000,000.00
    paid = {e.code: e.subsidy_fen for e in entries}
    # A 95/198 = 47,979,797.98 fen -> floor 47,979,797; B 68/198 -> 34,343,434.34; C 35/198 -> 17,676,767.67
    # the 2 fen left go to the largest remainders: A (.98) and C (.67)
    assert paid == {"A": 47_979_798, "B": 34_343_434, "C": 17_676_768, "D": 0}
    assert sum(paid.values()) == 1_000_000_00 and note is None
    assert [e.grade for e in entries] == ["excellent", "good", "pass", "poor"]


def test_when_everyone_is_poor_nothing_is_paid_and_that_is_said() -> None:
    entries = [Entry(1, "A", 59.99, 20), Entry(2, "B", 10, 5)]
    assert finalise(entries, 500_000, RULES) == NOTHING_PAID
    assert [e.subsidy_fen for e in entries] == [0, 0] and all(e.grade == "poor" for e in entries)


def test_equal_remainders_go_to_the_higher_ranked() -> None:
    assert split_subsidy(2, [("first", Fraction(1)), ("second", Fraction(1)), ("third", Fraction(1))]) == {
        "first": 1, "second": 1, "third": 0}


scores = st.decimals(min_value=0, max_value=100, places=2).map(float)


@hypothesis_settings(max_examples=300, deadline=None)
@given(budget=st.integers(min_value=0, max_value=10**14),
       totals=st.lists(st.tuples(scores, st.decimals(min_value=0, max_value=40, places=2).map(float)),
                       min_size=1, max_size=30))
def test_the_split_always_sums_to_the_budget_to_the_fen(budget: int, totals: list[tuple[float, float]]) -> None:
    entries = [Entry(i, f"I-{i:03d}", total, tie) for i, (total, tie) in enumerate(totals)]
    note = finalise(entries, budget, RULES)
    paid = [e.subsidy_fen for e in entries]
    if all(e.grade == "poor" for e in entries):
        assert note == NOTHING_PAID and not any(paid)
    else:
        assert sum(paid) == budget and note is None
    assert all(e.subsidy_fen == 0 for e in entries if e.grade == "poor")
    assert all(e.subsidy_fen >= 0 for e in entries)
    # a larger weight never gets less, and no share is more than a fen away from its exact value
    weight = {e.institution_id: Fraction(RULES["coefficients"][e.grade]) * Fraction(str(e.total)) for e in entries}
    whole = sum(weight.values())
    for e in entries:
        if whole:
            assert abs(Fraction(e.subsidy_fen) - budget * weight[e.institution_id] / whole) < 1
        for other in entries:
            if weight[e.institution_id] > weight[other.institution_id]:
                assert e.subsidy_fen >= other.subsidy_fen
    assert [e.rank for e in entries] == list(range(1, len(entries) + 1))
    assert all(a.total > b.total or (a.total == b.total and (a.tie_score, b.code) >= (b.tie_score, a.code))
               for a, b in zip(entries, entries[1:]))


def test_the_rules_are_settings_checked_at_start() -> None:
    import pytest

    from core.evaluation_rules import load_evaluation_rules

    rules = load_evaluation_rules({"EVALUATION_TRIM_MIN_EXPERTS": "7", "EVALUATION_COEFFICIENT_GOOD": "0.75",
                                   "EVALUATION_GAP_THRESHOLD": "0.3"})
    assert (rules.trim_min_experts, rules.coefficients()["good"], rules.gap_threshold) == (7, "0.75", 0.3)
    assert rules.coefficients()["poor"] == "0"
    for env, message in (({"EVALUATION_GRADE_GOOD": "95"}, "依次递减"), ({"EVALUATION_TRIM_MIN_EXPERTS": "x"}, "须为数字"),
                         ({"EVALUATION_COEFFICIENT_PASS": "nan"}, "须在 0 到 10 之间")):
        with pytest.raises(ValueError, match=message):
            load_evaluation_rules(env)
