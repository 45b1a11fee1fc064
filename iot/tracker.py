"""Every instrument's live state, its reporting interval and offline detection.

Readings are applied in timestamp order per instrument; one stamped at or
before the latest applied reading is late and changes nothing (it cannot move
the live state back in time). Silence is measured on the ingesting clock —
sensor clocks drift — while the offline interval is dated in sensor time, from
when the next reading was due.
"""
from __future__ import annotations

from array import array
from collections import Counter
from dataclasses import dataclass
from typing import Iterable, Sequence

from iot.classifier import OFFLINE, STATE_CODES, STATE_NAMES, UNKNOWN, Classifier
from iot.levels import DEFAULT_THRESHOLDS, Thresholds
from iot.payloads import GatewayStatus, Reading


@dataclass(frozen=True, slots=True)
class Change:
    code: str
    state: str  # on | standby | off | offline
    at_ms: int


@dataclass(frozen=True)
class TrackerRules:
    min_dwell_ms: int = 40_000
    offline_after: float = 2.5  # reporting intervals of silence
    default_interval_ms: int = 20_000  # until an instrument's own interval is known


class Track(Classifier):
    __slots__ = ("last_ts", "last_arrival", "interval")

    def __init__(self, now_ms: int, interval_ms: int, learned: Thresholds = DEFAULT_THRESHOLDS,
                 hist: array | None = None):
        super().__init__(learned, hist)
        self.last_ts = -1  # no reading yet
        self.last_arrival = now_ms
        self.interval = interval_ms


class Tracker:
    def __init__(self, rules: TrackerRules | None = None):
        self.rules = rules or TrackerRules()
        self.tracks: dict[str, Track] = {}
        self.gateways: dict[str, tuple[str, ...]] = {}
        self.changes: list[Change] = []
        self.relearned: set[str] = set()
        self.counts: Counter[str] = Counter()

    def track(self, code: str, now_ms: int) -> Track:
        track = self.tracks.get(code)
        if track is None:
            track = self.tracks[code] = Track(now_ms, self.rules.default_interval_ms)
        return track

    def seed_levels(self, code: str, now_ms: int, learned: Thresholds | None, override: Thresholds | None,
                    hist: Sequence[int] | None) -> None:
        """Restore the stored levels at start-up (learning goes on from the stored histogram)."""
        track = self.track(code, now_ms)
        track.learned = learned or DEFAULT_THRESHOLDS
        track.override = override
        if hist is not None and len(hist) == len(track.hist):
            track.hist = array("H", hist)

    def seed_state(self, code: str, state: str, since_ms: int, now_ms: int) -> None:
        """Restore the state the database holds; silence is counted from now."""
        track = self.track(code, now_ms)
        track.state, track.since = STATE_CODES[state], since_ms
        # when it last reported is not stored: take "just now", so an outage is dated from the restart
        # rather than rewriting the hours since the state began
        track.last_ts = max(since_ms, now_ms - track.interval)

    def feed(self, code: str, readings: Iterable[Reading], now_ms: int) -> None:
        """Apply one instrument's readings (any order) that arrived at now_ms."""
        track = self.track(code, now_ms)
        track.last_arrival = now_ms
        dwell = self.rules.min_dwell_ms
        for ts, current in sorted(readings):
            if ts <= track.last_ts:
                self.counts["late"] += 1
                continue
            if track.last_ts >= 0:
                gap = ts - track.last_ts
                if gap <= 4 * track.interval:  # a gap is an outage, not the rhythm
                    track.interval = max(1000, track.interval + (gap - track.interval) // 8)
            track.last_ts = ts
            self.counts["readings"] += 1
            change = track.observe(ts, current, dwell)
            if change is not None:
                self.changes.append(Change(code, STATE_NAMES[change[0]], change[1]))
            if track.learning_due() and track.relearn():
                self.relearned.add(code)

    def sweep(self, now_ms: int) -> None:
        """Mark offline every instrument silent for `offline_after` reporting intervals."""
        factor = self.rules.offline_after
        for code, track in self.tracks.items():
            if track.state != OFFLINE and now_ms - track.last_arrival >= factor * track.interval:
                self._offline(code, track, track.last_ts + track.interval if track.last_ts >= 0 else now_ms)

    def gateway_status(self, status: GatewayStatus, now_ms: int) -> None:
        if status.instruments is not None:
            self.gateways[status.gateway_id] = status.instruments
        if status.online:
            return
        for code in status.instruments or self.gateways.get(status.gateway_id, ()):
            track = self.tracks.get(code)
            if track is not None:
                due = track.last_ts + track.interval if track.last_ts >= 0 else now_ms
                self._offline(code, track, min(now_ms, due))

    def _offline(self, code: str, track: Track, at_ms: int) -> None:
        change = track.go_offline(at_ms)
        if change is not None:
            self.counts["offline"] += 1
            self.changes.append(Change(code, "offline", change[1]))

    def set_override(self, code: str, override: Thresholds | None, now_ms: int) -> None:
        self.track(code, now_ms).override = override

    def state_of(self, code: str) -> str | None:
        track = self.tracks.get(code)
        return None if track is None or track.state == UNKNOWN else STATE_NAMES[track.state]

    def drain(self) -> tuple[list[Change], set[str]]:
        changes, relearned = self.changes, self.relearned
        self.changes, self.relearned = [], set()
        return changes, relearned
