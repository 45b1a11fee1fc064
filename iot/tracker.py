"""Every instrument's live state, its reporting interval and offline detection.

Readings are applied in timestamp order per instrument; one stamped at or
before the latest applied reading is late: it cannot move the live state back
in time. With the adaptive method (the default) late readings that fall in a
stretch marked offline amend that stretch (iot.backlog), gateway clocks are
estimated and corrected (iot.clock_offset), and a dead clamp is a sensor
fault; the baseline drops late readings and takes stamps as they come.
Silence is measured on the ingesting clock, while the offline interval is
dated in sensor time, from when the next reading was due.
"""
from __future__ import annotations

import math
from array import array
from collections import Counter
from dataclasses import dataclass
from typing import Iterable, Sequence

from iot.backlog import offline_gaps, replay_gap, state_name
from iot.classifier import OFFLINE, ON, STANDBY, STATE_CODES, UNKNOWN, Track
from iot.levels import DEFAULT_THRESHOLDS, Thresholds
from iot.payloads import GatewayStatus, Reading
from iot.early_readings import EarlyReadings
from iot.state_machine import FAULT_AFTER_MS, HISTORY, AdaptiveTrack

METHODS = ("adaptive", "baseline")
BLIP_INTERVALS = 3.5  # a silence no longer than this (two readings lost) is no outage, once it is over


@dataclass(frozen=True, slots=True)
class Change:
    code: str
    state: str  # on | standby | off | offline
    at_ms: int
    reason: str = ""  # for offline: "" (silence) or "sensor_fault"


def _settled(before: Thresholds, after: Thresholds) -> bool:
    """Learned twice in a row to within 5 %: the levels are known well enough to read the past with."""
    return (before.source == after.source == "learned" and abs(math.log(after.on_above_a / before.on_above_a)) < 0.05
            and abs(math.log(after.off_below_a / before.off_below_a)) < 0.05)


def _change(code: str, state: int, at_ms: int) -> Change:
    name, reason = state_name(state)
    return Change(code, name, at_ms, reason)


@dataclass(frozen=True, slots=True)
class Amendment:
    """Late data re-derived [start_ms, end_ms): these states replace what was stored there."""
    code: str
    start_ms: int
    end_ms: int
    segments: tuple[Change, ...]  # the first at start_ms
    source: str = "late_data"  # or "sensor": a duty-cycle train the live readings already showed, read again


@dataclass(frozen=True)
class TrackerRules:
    min_dwell_ms: int = 40_000
    offline_after: float = 2.5  # reporting intervals of silence
    default_interval_ms: int = 20_000  # until an instrument's own interval is known
    method: str = "adaptive"  # or "baseline", the first method (kept for the evaluation)
    fault_after_ms: int = FAULT_AFTER_MS  # zeros for this long are a dead sensor (0: never)
    early_tracks: int = 2000  # instruments whose readings are kept until their levels are learned


class Tracker:
    def __init__(self, rules: TrackerRules | None = None):
        self.rules = rules or TrackerRules()
        self.tracks: dict[str, Track] = {}
        self.gateways: dict[str, tuple[str, ...]] = {}
        self.changes: list[Change] = []
        self.amendments: list[Amendment] = []
        self.relearned: set[str] = set()
        self.counts: Counter[str] = Counter()
        self.adaptive = self.rules.method == "adaptive"
        self.early_in_use = 0

    def track(self, code: str, now_ms: int) -> Track:
        track = self.tracks.get(code)
        if track is None:
            interval = self.rules.default_interval_ms
            track = self.tracks[code] = (AdaptiveTrack(now_ms, interval, fault_after_ms=self.rules.fault_after_ms)
                                         if self.adaptive else Track(now_ms, interval))
            if isinstance(track, AdaptiveTrack) and self.early_in_use < self.rules.early_tracks:
                track.early = EarlyReadings()
                self.early_in_use += 1
        return track

    def seed_levels(self, code: str, now_ms: int, learned: Thresholds | None, override: Thresholds | None,
                    hist: Sequence[int] | None) -> None:
        """Restore the stored levels at start-up (learning goes on from the stored histogram)."""
        track = self.track(code, now_ms)
        track.learned = learned or DEFAULT_THRESHOLDS
        track.override = override
        if isinstance(track, AdaptiveTrack) and track.early is not None and track.learned.source == "learned":
            self._drop_early(track)  # nothing to read again: the levels were learned before
        if hist is not None and len(hist) == len(track.hist):
            track.hist = array("H", hist)

    def seed_state(self, code: str, state: str, since_ms: int, now_ms: int) -> None:
        """Restore the state the database holds; silence is counted from now."""
        track = self.track(code, now_ms)
        track.state, track.since = STATE_CODES[state], since_ms
        if isinstance(track, AdaptiveTrack):
            track.history = [(track.state, since_ms)]
        # when it last reported is not stored: take "just now", so an outage is dated from the restart
        # rather than rewriting the hours since the state began
        track.last_ts = max(since_ms, now_ms - track.interval)

    def feed(self, code: str, readings: Iterable[Reading], now_ms: int) -> None:
        """Apply one instrument's readings (any order) that arrived at now_ms."""
        track = self.track(code, now_ms)
        track.last_arrival = now_ms
        dwell = self.rules.min_dwell_ms
        ordered = sorted(readings)
        if not ordered:
            return
        late: list[Reading] = []
        if self.adaptive:
            ordered = self._on_platform_clock(code, track, ordered, now_ms)  # type: ignore[arg-type]
        if self.adaptive and track.state == OFFLINE and track.last_ts >= 0:
            self._forget_blip(code, track, ordered)  # type: ignore[arg-type]
        for ts, current in ordered:
            if ts <= track.last_ts:
                late.append(Reading(ts, current))
                continue
            if track.last_ts >= 0:
                gap = ts - track.last_ts
                if gap <= 4 * track.interval:  # a gap is an outage, not the rhythm
                    track.interval = max(1000, track.interval + (gap - track.interval) // 8)
            track.last_ts = ts
            self.counts["readings"] += 1
            change = track.observe(ts, current, dwell)
            if change is not None:
                self.changes.append(_change(code, change[0], change[1]))
            if self.adaptive:
                if track.early is not None:
                    track.early.add(ts + track.clock.offset_ms, current)  # the stamp as the gateway wrote it
                if track.cycles.closed is not None:
                    self._mend_train(code, track)
            if track.learning_due():
                before = track.learned
                if track.relearn():
                    self.relearned.add(code)
                if self.adaptive and track.early is not None and _settled(before, track.learned):
                    self._reread_early(code, track)
        if late:
            if isinstance(track, AdaptiveTrack):
                if track.early is not None:  # read again with the rest once the levels are learned
                    for ts, amps in late:
                        track.early.add(ts + track.clock.offset_ms, amps)
                self._amend(code, track, late)
            else:
                self.counts["late"] += len(late)

    def _on_platform_clock(self, code: str, track: AdaptiveTrack, ordered: list[Reading],
                           now_ms: int) -> list[Reading]:
        """The readings re-dated by the gateway's estimated clock offset (none refused unless it
        cannot be trusted)."""
        clock = track.clock
        offset, trusted = clock.offset_ms, clock.trusted
        if ordered[-1][0] - offset > track.last_ts:  # a backlog tells nothing about the clock
            clock.see(ordered[-1][0], now_ms)
            if clock.offset_ms != offset or clock.trusted is not trusted:
                self.relearned.add(code)  # saved with the levels, so that it can be explained
        if not clock.trusted:
            self.counts["clock_untrusted"] += len(ordered)
            return []
        offset = clock.offset_ms
        return [Reading(ts - offset, c) for ts, c in ordered] if offset else ordered

    def _drop_early(self, track: AdaptiveTrack) -> None:
        track.early = None
        self.early_in_use -= 1

    def _reread_early(self, code: str, track: AdaptiveTrack) -> None:
        """The levels are learned now: read the period before again with them and amend it."""
        early = track.early
        assert early is not None
        self._drop_early(track)
        readings = early.readings(track.clock.offset_ms)
        if len(readings) < 2 or track.override is not None:
            return
        start, end = readings[0][0], readings[-1][0]
        derived = replay_gap(track, UNKNOWN, start, end, readings[:-1], self.rules.min_dwell_ms,
                             self.rules.offline_after, track.interval * early.stride)
        if not derived:
            return
        history = track.history
        live = [e for e in history if e[1] <= end]
        if live and live[-1][0] != derived[-1][0]:
            # the live state at the end stands (a change still pending in the replay was already made live)
            derived.append((live[-1][0], max(live[-1][1], derived[-1][1])))
        history[:] = sorted([e for e in history if not start <= e[1] < end] + derived, key=lambda e: e[1])
        del history[:-HISTORY]
        self.counts["reread_early"] += 1
        self.amendments.append(Amendment(code, start, end, tuple(_change(code, st, at) for st, at in derived),
                                         "sensor"))

    def _forget_blip(self, code: str, track: AdaptiveTrack, ordered: list[Reading]) -> None:
        """Two readings lost in a row make a silence of three intervals, past the offline threshold,
        though nothing happened: once the next reading comes that soon, the stored offline stretch
        becomes the state it interrupted (the live status was offline meanwhile, as it should be)."""
        history = track.history
        following = next((ts for ts, _ in ordered if ts > track.last_ts), None)
        if (following is None or len(history) < 2 or history[-1][0] != OFFLINE
                or following - track.last_ts > BLIP_INTERVALS * track.interval):
            return
        before, start = history[-2][0], history[-1][1]
        if following <= start:
            return
        history[-1] = (before, start)
        self.counts["blips"] += 1
        self.amendments.append(Amendment(code, start, following, (_change(code, before, start),), "sensor"))

    def _mend_train(self, code: str, track: AdaptiveTrack) -> None:
        """A duty-cycle train is one run: on from its first burst to its last, whatever the
        flips made before the instrument's bridge was known."""
        start, end = track.cycles.closed or (0, 0)
        track.cycles.closed = None
        history = track.history
        inside = [entry for entry in history if start <= entry[1] < end]
        earlier = [entry for entry in history if entry[1] < start]
        if end <= start or any(state not in (ON, STANDBY) for state, _ in inside):
            return  # an outage inside: leave it as it was
        if not inside and (not earlier or earlier[-1][0] == ON):
            return  # nothing to mend
        after = inside[-1][0] if inside else earlier[-1][0]
        segments = [(ON, start)]
        if after != ON and not any(at == end for _, at in history):
            segments.append((after, end))
        history[:] = sorted([e for e in history if not start <= e[1] < end] + segments, key=lambda e: e[1])
        track.since = history[-1][1]
        self.counts["mended_trains"] += 1
        self.amendments.append(Amendment(code, start, end, tuple(_change(code, st, at) for st, at in segments),
                                         "sensor"))

    def _amend(self, code: str, track: AdaptiveTrack, late: list[Reading]) -> None:
        used = 0
        history = track.history
        for index, start, end in reversed(offline_gaps(history)):
            inside = [r for r in late if start - track.interval < r[0] < end]
            if not inside:
                continue
            used += len(inside)
            before = history[index - 1][0] if index else OFFLINE
            derived = replay_gap(track, before, start, end, inside, self.rules.min_dwell_ms,
                                 self.rules.offline_after)
            history[index:index + 1] = derived
            self.amendments.append(Amendment(code, start, end,
                                             tuple(_change(code, state, since) for state, since in derived)))
        self.counts["amended"] += used
        self.counts["late"] += len(late) - used

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
        return None if track is None or track.state == UNKNOWN else state_name(track.state)[0]

    def drain(self) -> tuple[list[Change], set[str]]:
        changes, relearned = self.changes, self.relearned
        self.changes, self.relearned = [], set()
        return changes, relearned

    def drain_amendments(self) -> list[Amendment]:
        amendments, self.amendments = self.amendments, []
        return amendments
