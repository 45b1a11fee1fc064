"""Replays traces through the tracker on the simulated clock and scores the
result against the ground truth (the bench, the tests and `flask iot evaluate`).

Every delivery is fed at its arrival instant with the stamp the gateway wrote
on it, so skewed clocks, duplicates and gateway buffers flushed after live
data reach the tracker as they would reach the ingestion. The tracked history
is the state changes with every late-data amendment applied, as the database
would hold it.
"""
from __future__ import annotations

import heapq
from dataclasses import dataclass, field
from typing import Callable, Iterator, Sequence

import numpy as np

from iot.classifier import OFF, OFFLINE, ON, STANDBY, STATE_CODES
from iot.simulator import Trace
from iot.tracker import Amendment, Change, Tracker, TrackerRules

UNKNOWN_CODE = -1
MATCH_TOLERANCE_MS = 120_000  # a tracked change this close to a true one of the same kind is not spurious
Delivery = tuple[int, int, float]  # arrival ms, stamp ms, current A


@dataclass
class Score:
    samples: int = 0
    correct: int = 0
    true_on_h: float = 0.0
    found_on_h: float = 0.0
    true_standby_h: float = 0.0
    found_standby_h: float = 0.0
    true_off_h: float = 0.0
    found_off_h: float = 0.0
    instrument_days: float = 0.0
    true_changes: int = 0
    spurious_changes: int = 0
    per_instrument_on_error: list[float] = field(default_factory=list)
    offline_delays: list[float] = field(default_factory=list)  # reporting intervals from the last reading
    outages_missed: int = 0
    fault_delays_min: list[float] = field(default_factory=list)  # minutes from a dead clamp's first zero
    faults_missed: int = 0
    backlog_samples: int = 0  # instants whose only data came in a late flush …
    backlog_recovered: int = 0  # … and that the tracked history shows with a state

    @property
    def accuracy(self) -> float:
        return self.correct / self.samples if self.samples else 0.0

    @staticmethod
    def _error(found: float, true: float) -> float:
        return abs(found - true) / true if true else 0.0

    @property
    def on_hours_error(self) -> float:
        return self._error(self.found_on_h, self.true_on_h)

    @property
    def standby_hours_error(self) -> float:
        return self._error(self.found_standby_h, self.true_standby_h)

    @property
    def off_hours_error(self) -> float:
        return self._error(self.found_off_h, self.true_off_h)

    @property
    def spurious_per_day(self) -> float:
        return self.spurious_changes / self.instrument_days if self.instrument_days else 0.0

    @property
    def backlog_share(self) -> float | None:
        return self.backlog_recovered / self.backlog_samples if self.backlog_samples else None


def plain_deliveries(trace: Trace, delay_ms: int = 500) -> list[Delivery]:
    """What a trace without its own delivery plan sends: every published reading, delay_ms after it."""
    stamps = trace.ts if trace.stamp is None else trace.stamp
    arrivals = trace.ts + delay_ms if trace.arrival is None else trace.arrival
    idx = np.nonzero(trace.published)[0]
    return sorted(zip(arrivals[idx].tolist(), stamps[idx].tolist(), trace.current[idx].astype(float).tolist()))


def _merged(plans: dict[str, list[Delivery]]) -> Iterator[tuple[int, str, list[tuple[int, float]]]]:
    """(arrival, code, readings) in arrival order, readings of one code arriving together grouped."""
    streams = ([(a, code, s, c) for a, s, c in plan] for code, plan in plans.items())
    batch: list[tuple[int, float]] = []
    key: tuple[int, str] | None = None
    for arrival, code, stamp, current in heapq.merge(*streams):
        if key is not None and key != (arrival, code):
            yield key[0], key[1], batch
            batch = []
        key = (arrival, code)
        batch.append((stamp, current))
    if key is not None:
        yield key[0], key[1], batch


def replay(traces: Sequence[Trace], rules: TrackerRules, arrival_delay_ms: int = 500,
           tracker: Tracker | None = None,
           deliveries: Callable[[Trace], list[Delivery]] | None = None,
           ) -> tuple[dict[str, list[Change]], list[tuple[str, int]]]:
    """Feed every delivery at its arrival, sweeping for silence every quarter of the shortest
    reporting interval. Returns the tracked history per instrument (amendments applied) and
    (code, detected at) for every offline detection."""
    from iot.payloads import Reading

    tracker = tracker or Tracker(rules)
    plan_of = deliveries or (lambda t: plain_deliveries(t, arrival_delay_ms))
    plans = {t.code: plan_of(t) for t in traces}
    steps = [int(t.ts[1] - t.ts[0]) for t in traces if len(t.ts) > 1]
    tick = max(1000, min(steps, default=20_000) // 4)  # the ingestion sweeps every second; a quarter is close
    changes: dict[str, list[Change]] = {t.code: [] for t in traces}
    amendments: list[Amendment] = []
    detections: list[tuple[str, int]] = []

    def collect(now: int) -> None:
        batch, _ = tracker.drain()
        for change in batch:
            changes[change.code].append(change)
            if change.state == "offline":
                detections.append((change.code, now))
        amendments.extend(tracker.drain_amendments())

    next_sweep = min((int(t.ts[0]) for t in traces), default=0)
    for arrival, code, batch in _merged(plans):
        while next_sweep < arrival:
            tracker.sweep(next_sweep)
            collect(next_sweep)
            next_sweep += tick
        tracker.feed(code, [Reading(s, c) for s, c in batch], arrival)
        collect(arrival)
    end = max((int(t.ts[-1]) for t in traces), default=0)
    while next_sweep <= end:
        tracker.sweep(next_sweep)
        collect(next_sweep)
        next_sweep += tick
    for amendment in amendments:
        changes[amendment.code] = amend(changes[amendment.code], amendment)
    return changes, detections


def amend(history: list[Change], amendment: Amendment) -> list[Change]:
    """The history with [start, end) replaced by the amendment's segments (as the database does)."""
    kept = [c for c in history if not amendment.start_ms <= c.at_ms < amendment.end_ms]
    return sorted(kept + list(amendment.segments), key=lambda c: c.at_ms)


def states_at(ts: np.ndarray, changes: Sequence[Change]) -> np.ndarray:
    """The tracked state at each instant (UNKNOWN_CODE before the first change)."""
    if not changes:
        return np.full(len(ts), UNKNOWN_CODE, dtype=np.int8)
    at = np.array([c.at_ms for c in changes], dtype=np.int64)
    codes = np.array([STATE_CODES[c.state] for c in changes], dtype=np.int8)
    idx = np.searchsorted(at, ts, side="right") - 1
    out = codes[np.maximum(idx, 0)]
    out[idx < 0] = UNKNOWN_CODE
    return out


def _transitions(ts: np.ndarray, states: np.ndarray) -> list[tuple[int, int]]:
    edges = np.nonzero(np.diff(states) != 0)[0] + 1
    return [(int(ts[i]), int(states[i])) for i in edges if states[i - 1] != UNKNOWN_CODE]


def _spurious(found: list[tuple[int, int]], true: list[tuple[int, int]], tolerance: int) -> int:
    by_state: dict[int, np.ndarray] = {}
    for state in {s for _, s in found}:
        by_state[state] = np.array(sorted(t for t, s in true if s == state), dtype=np.int64)
    count = 0
    for at, state in found:
        times = by_state[state]
        i = int(np.searchsorted(times, at))
        near = [abs(int(times[j]) - at) for j in (i - 1, i) if 0 <= j < len(times)]
        if not near or min(near) > tolerance:
            count += 1
    return count


def score_trace(result: Score, trace: Trace, history: Sequence[Change], detected: Sequence[int]) -> None:
    step = int(trace.ts[1] - trace.ts[0]) if len(trace.ts) > 1 else 1000
    hours_per_sample = step / 3_600_000
    # truth[i] holds from ts[i] until the next instant: compare in the middle of that span, so that an
    # edge dated a network delay after the instant is not a whole sample wrong
    found = states_at(trace.ts + step // 2, history)
    truth = trace.truth
    result.samples += len(found)
    result.correct += int((found == truth).sum())
    result.instrument_days += len(found) * step / 86_400_000
    for state, true_attr, found_attr in ((ON, "true_on_h", "found_on_h"), (STANDBY, "true_standby_h", "found_standby_h"),
                                         (OFF, "true_off_h", "found_off_h")):
        setattr(result, true_attr, getattr(result, true_attr) + float((truth == state).sum()) * hours_per_sample)
        setattr(result, found_attr, getattr(result, found_attr) + float((found == state).sum()) * hours_per_sample)
    true_on = float((truth == ON).sum())
    if true_on:
        result.per_instrument_on_error.append(abs(float((found == ON).sum()) - true_on) / true_on)
    true_edges = _transitions(trace.ts, truth)
    result.true_changes += len(true_edges)
    result.spurious_changes += _spurious(_transitions(trace.ts, found), true_edges, max(MATCH_TOLERANCE_MS, 3 * step))
    fault = np.zeros(len(truth), dtype=bool) if trace.fault is None else trace.fault
    _score_outages(result, trace, (truth == OFFLINE) & ~fault, detected, step)
    _score_faults(result, trace, fault, found)
    if trace.arrival is not None:  # instants covered only by a late flush (arrived after later readings)
        arrival = np.where(trace.published, trace.arrival, np.iinfo(np.int64).max)
        after = np.concatenate((np.minimum.accumulate(arrival[::-1])[::-1][1:], [np.iinfo(np.int64).max]))
        flushed = trace.published & (truth != OFFLINE) & (arrival > after)
        result.backlog_samples += int(flushed.sum())
        result.backlog_recovered += int((flushed & (found != OFFLINE) & (found != UNKNOWN_CODE)).sum())


def _score_outages(result: Score, trace: Trace, offline: np.ndarray, detected: Sequence[int], step: int) -> None:
    starts = np.nonzero(offline & ~np.concatenate(([False], offline[:-1])))[0]
    for s in starts:
        before = np.nonzero(trace.published[:s])[0]
        if len(before) == 0:
            continue
        last_reading = int(trace.ts[before[-1]])
        hits = [at for at in detected if at >= last_reading]
        if not hits:
            result.outages_missed += 1
            continue
        result.offline_delays.append((min(hits) - last_reading) / step)


def _score_faults(result: Score, trace: Trace, fault: np.ndarray, found: np.ndarray) -> None:
    starts = np.nonzero(fault & ~np.concatenate(([False], fault[:-1])))[0]
    for s in starts:
        e = s + int(np.argmin(fault[s:])) if not fault[s:].all() else len(fault)
        hit = np.nonzero(found[s:e] == OFFLINE)[0]
        if len(hit) == 0:
            result.faults_missed += 1
        else:
            result.fault_delays_min.append(float(trace.ts[s + hit[0]] - trace.ts[s]) / 60_000)


def score(traces: Sequence[Trace], changes: dict[str, list[Change]], detections: Sequence[tuple[str, int]],
          interval_ms: int | None = None) -> Score:
    """The whole set's score (interval_ms is kept for callers; each trace's own step is used)."""
    result = Score()
    detected: dict[str, list[int]] = {}
    for code, at in detections:
        detected.setdefault(code, []).append(at)
    for trace in traces:
        score_trace(result, trace, changes[trace.code], detected.get(trace.code, []))
    return result


def score_by_kind(traces: Sequence[Trace], changes: dict[str, list[Change]],
                  detections: Sequence[tuple[str, int]]) -> dict[str, Score]:
    """One score per instrument kind, and "all"."""
    detected: dict[str, list[int]] = {}
    for code, at in detections:
        detected.setdefault(code, []).append(at)
    scores: dict[str, Score] = {"all": Score()}
    for trace in traces:
        for key in (trace.kind, "all"):
            score_trace(scores.setdefault(key, Score()), trace, changes[trace.code], detected.get(trace.code, []))
    return scores
