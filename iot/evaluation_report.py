"""The evaluation's table: both methods on the same traces, per instrument kind.

`flask iot evaluate` and bench/iot_bench.py print it; the figures are the
issue's bar: per-sample accuracy, the error of on-, standby- and off-hours,
spurious state changes per instrument-day, how soon a dead clamp is reported
and how much of a late backlog is recovered.
"""
from __future__ import annotations

import dataclasses
from typing import Callable, Iterator, Sequence

from iot.evaluation import Delivery, Score, replay, score_by_kind
from iot.simulator import Trace
from iot.tracker import METHODS, TrackerRules

BAR = {"accuracy": 0.97, "kind_accuracy": 0.93, "hours_error": 0.03, "spurious_per_day": 1.0, "fault_minutes": 10.0}


def compare(traces: Sequence[Trace], rules: TrackerRules,
            deliveries: Callable[[Trace], list[Delivery]] | None = None,
            methods: Sequence[str] = METHODS, with_hmm: bool = False) -> dict[str, dict[str, Score]]:
    """{method: {kind or "all": Score}}, every method replaying the same deliveries; with_hmm adds the
    offline HMM reference (iot.hmm_reference), which reads the whole trace at once."""
    result = {}
    for method in methods:
        changes, detections = replay(traces, dataclasses.replace(rules, method=method), deliveries=deliveries)
        result[method] = score_by_kind(traces, changes, detections)
    if with_hmm:
        from iot.hmm_reference import hmm_replay

        result["hmm"] = score_by_kind(traces, *hmm_replay(traces))
    return result


def _pct(value: float | None) -> str:
    return "   -  " if value is None else f"{value:6.1%}"


def _fault(score: Score) -> str:
    if not score.fault_delays_min and not score.faults_missed:
        return "    -   "
    worst = max(score.fault_delays_min, default=float("nan"))
    return f"{worst:4.1f}m/{score.faults_missed}x" if score.faults_missed else f"{worst:5.1f} min"


def render(comparison: dict[str, dict[str, Score]]) -> Iterator[str]:
    methods = list(comparison)
    kinds = sorted(k for k in comparison[methods[0]] if k != "all") + ["all"]
    yield ("kind        method     accuracy  on-h err  stby err  off-h err  spurious/day  true/day  "
           "dead clamp  backlog")
    for kind in kinds:
        for method in methods:
            s = comparison[method][kind]
            true_per_day = s.true_changes / s.instrument_days if s.instrument_days else 0.0
            yield (f"{kind:<11} {method:<10} {s.accuracy:7.2%}  {_pct(s.on_hours_error)}   "
                   f"{_pct(s.standby_hours_error)}   {_pct(s.off_hours_error)}    {s.spurious_per_day:8.2f}    "
                   f"{true_per_day:6.2f}   {_fault(s)}  {_pct(s.backlog_share)}")
    yield ""
    yield (f"bar: accuracy >= {BAR['accuracy']:.0%} overall and >= {BAR['kind_accuracy']:.0%} per kind; "
           f"hours error <= {BAR['hours_error']:.0%} each; <= {BAR['spurious_per_day']:g} spurious change per "
           f"instrument-day; a dead clamp offline within {BAR['fault_minutes']:g} min; a late backlog recovered in full")


def meets_bar(scores: dict[str, Score]) -> list[str]:
    """What one method misses of the bar (empty: all met)."""
    misses = []
    overall = scores["all"]
    if overall.accuracy < BAR["accuracy"]:
        misses.append(f"accuracy {overall.accuracy:.2%}")
    for kind, s in scores.items():
        if kind != "all" and s.accuracy < BAR["kind_accuracy"]:
            misses.append(f"{kind} accuracy {s.accuracy:.2%}")
    for name in ("on_hours_error", "standby_hours_error", "off_hours_error"):
        if getattr(overall, name) > BAR["hours_error"]:
            misses.append(f"{name} {getattr(overall, name):.2%}")
    if overall.spurious_per_day > BAR["spurious_per_day"]:
        misses.append(f"spurious {overall.spurious_per_day:.2f}/day")
    if overall.faults_missed or max(overall.fault_delays_min, default=0) > BAR["fault_minutes"]:
        misses.append("dead clamp not reported in time")
    if overall.backlog_share is not None and overall.backlog_share < 0.999:
        misses.append(f"backlog recovered {overall.backlog_share:.1%}")
    return misses
