"""Replays simulated traces through the tracker on the simulated clock and
scores the result against the ground truth (the bench and the tests use it)."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

from iot.classifier import OFFLINE, ON, STATE_CODES, STANDBY
from iot.payloads import Reading
from iot.simulator import Trace
from iot.tracker import Change, Tracker, TrackerRules

UNKNOWN_CODE = -1


@dataclass
class Score:
    samples: int = 0
    correct: int = 0
    true_on_h: float = 0.0
    found_on_h: float = 0.0
    true_standby_h: float = 0.0
    found_standby_h: float = 0.0
    per_instrument_on_error: list[float] = field(default_factory=list)
    offline_delays: list[float] = field(default_factory=list)  # reporting intervals from the last reading
    outages_missed: int = 0

    @property
    def accuracy(self) -> float:
        return self.correct / self.samples if self.samples else 0.0

    @property
    def on_hours_error(self) -> float:
        return abs(self.found_on_h - self.true_on_h) / self.true_on_h if self.true_on_h else 0.0

    @property
    def standby_hours_error(self) -> float:
        return abs(self.found_standby_h - self.true_standby_h) / self.true_standby_h if self.true_standby_h else 0.0


def replay(traces: Sequence[Trace], rules: TrackerRules, arrival_delay_ms: int = 500,
           tracker: Tracker | None = None) -> tuple[dict[str, list[Change]], list[tuple[str, int]]]:
    """Feed every published reading at its instant (+ a network delay), sweeping for silence
    once per reporting instant. Returns the changes per instrument and (code, detected at)
    for every offline detection."""
    tracker = tracker or Tracker(rules)
    changes: dict[str, list[Change]] = {t.code: [] for t in traces}
    detections: list[tuple[str, int]] = []
    n = len(traces[0].ts)
    half = int(traces[0].ts[1] - traces[0].ts[0]) // 2 if n > 1 else 0

    def collect(now: int) -> None:
        batch, _ = tracker.drain()
        for change in batch:
            changes[change.code].append(change)
            if change.state == "offline":
                detections.append((change.code, now))

    for i in range(n):
        now = int(traces[0].ts[i]) + arrival_delay_ms
        for trace in traces:
            if trace.published[i]:
                tracker.feed(trace.code, [Reading(int(trace.ts[i]), float(trace.current[i]))], now)
        # the ingestion sweeps every second; twice per reporting interval is close enough here
        tracker.sweep(now)
        collect(now)
        tracker.sweep(now + half)
        collect(now + half)
    return changes, detections


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


def score(traces: Sequence[Trace], changes: dict[str, list[Change]], detections: Sequence[tuple[str, int]],
          interval_ms: int) -> Score:
    result = Score()
    hours_per_sample = interval_ms / 3_600_000
    detected: dict[str, list[int]] = {}
    for code, at in detections:
        detected.setdefault(code, []).append(at)
    for trace in traces:
        found = states_at(trace.ts, changes[trace.code])
        result.samples += len(found)
        result.correct += int((found == trace.truth).sum())
        true_on = float((trace.truth == ON).sum()) * hours_per_sample
        found_on = float((found == ON).sum()) * hours_per_sample
        result.true_on_h += true_on
        result.found_on_h += found_on
        result.true_standby_h += float((trace.truth == STANDBY).sum()) * hours_per_sample
        result.found_standby_h += float((found == STANDBY).sum()) * hours_per_sample
        if true_on:
            result.per_instrument_on_error.append(abs(found_on - true_on) / true_on)
        # each outage: how long after the last reading before it was it detected?
        offline = trace.truth == OFFLINE
        starts = np.nonzero(offline & ~np.concatenate(([False], offline[:-1])))[0]
        for s in starts:
            before = np.nonzero(trace.published[:s])[0]
            if len(before) == 0:
                continue
            last_reading = int(trace.ts[before[-1]])
            hits = [at for at in detected.get(trace.code, []) if at >= last_reading]
            if not hits:
                result.outages_missed += 1
                continue
            result.offline_delays.append((min(hits) - last_reading) / interval_ms)
    return result
