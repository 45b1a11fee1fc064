"""Late data amends the stored history; it never moves the live state back.

A store-and-forward gateway may send live readings first and its buffer a
minute later. (The same replay reads an instrument's first hours again once its
levels are learned: iot.early_readings.) By then the gap was marked offline (silence) and the live state
has moved on. The buffered readings are replayed from the state in force
before the gap, by the instrument's own learned model, on a scratch track;
what they show replaces the offline stretch, where they cover it. Stretches
of the backlog that are themselves silent stay offline.
"""
from __future__ import annotations

from typing import Sequence

from iot.classifier import OFFLINE, STATE_NAMES, UNKNOWN
from iot.payloads import Reading
from iot.state_machine import FAULT, SENSOR_FAULT, AdaptiveTrack


def state_name(code: int) -> tuple[str, str]:
    """(stored state, reason) of a state code."""
    return ("offline", SENSOR_FAULT) if code == FAULT else (STATE_NAMES[code], "")


def offline_gaps(history: Sequence[tuple[int, int]]) -> list[tuple[int, int, int]]:
    """(index in history, start, end) of every silent stretch that has ended."""
    return [(i, since, history[i + 1][1]) for i, (state, since) in enumerate(history[:-1]) if state == OFFLINE]


def replay_gap(track: AdaptiveTrack, before: int, start_ms: int, end_ms: int, readings: Sequence[Reading],
               min_dwell_ms: int, offline_after: float, interval_ms: int | None = None) -> list[tuple[int, int]]:
    """The states over [start_ms, end_ms) that `readings` (sorted, inside the span) show with the
    track's current levels, starting from state `before` (UNKNOWN: from the first reading on):
    (state code, since) pairs. `interval_ms`: the readings' step, when they are thinned out."""
    step = interval_ms or track.interval
    scratch = AdaptiveTrack(start_ms, step, track.learned, track.hist.__copy__(), track.fault_after_ms)
    scratch.override = track.override
    scratch.state, scratch.since = before, start_ms
    scratch.history = [] if before == UNKNOWN else [(before, start_ms)]
    silence = int(offline_after * step)
    last = start_ms - step
    for ts, current in readings:
        if ts - last > silence and scratch.state != UNKNOWN:
            scratch.go_offline(last + step)
        scratch.observe(ts, current, min_dwell_ms)
        last = ts
    if end_ms - last > silence:
        scratch.go_offline(last + step)
    # the history of a scratch track is what the readings showed; keep what lies in the span
    return [(state, max(since, start_ms)) for state, since in scratch.history if since < end_ms]
