"""One instrument's state from its current readings: learned levels,
hysteresis and a minimum dwell time.

A reading first gets a level with hysteresis relative to the current state
(leaving a state needs crossing its threshold by the band). A different level
becomes the state only once it has lasted `min_dwell_ms`, and the change is
then dated back to the first reading of that level, so hours stay exact while
a start-up spike or a one-reading glitch never flips the state.
"""
from __future__ import annotations

from array import array

from iot.levels import (
    DEFAULT_THRESHOLDS, MIN_SAMPLES, PLATEAU_TOLERANCE, Thresholds, add_sample, learn, log_current, new_histogram,
)

UNKNOWN, OFF, STANDBY, ON, OFFLINE = -1, 0, 1, 2, 3
STATE_NAMES = {OFF: "off", STANDBY: "standby", ON: "on", OFFLINE: "offline"}
STATE_CODES = {name: code for code, name in STATE_NAMES.items()}
NONE = -2  # no pending level

RELEARN_EARLY = 60  # plateau readings between learning passes while the levels are not all known
RELEARN_SETTLED = 1080  # … and once they are (six hours at one reading every 20 s)


def level_for(current_a: float, state: int, th: Thresholds) -> int:
    """OFF, STANDBY or ON for one reading, with the hysteresis band around the current state."""
    r = th.hysteresis
    if state in (OFF, STANDBY, ON):
        lower = th.off_below_a / r if state >= STANDBY else th.off_below_a * r
        upper = th.on_above_a / r if state == ON else th.on_above_a * r
    else:  # nothing to hold on to: plain thresholds
        lower, upper = th.off_below_a, th.on_above_a
    if current_a > upper:
        return ON
    return STANDBY if current_a > lower else OFF


class Classifier:
    """Per-instrument state machine; slots keep 90,000 of them small."""

    __slots__ = ("state", "since", "pending", "pending_since", "hist", "learned", "override", "prev_log",
                 "since_learn")

    def __init__(self, learned: Thresholds = DEFAULT_THRESHOLDS, hist: array | None = None):
        self.state = UNKNOWN
        self.since = 0  # ms: start of the current state
        self.pending = NONE
        self.pending_since = 0
        self.hist = hist if hist is not None else new_histogram()
        self.learned = learned
        self.override: Thresholds | None = None
        self.prev_log = -99.0
        self.since_learn = 0

    @property
    def thresholds(self) -> Thresholds:
        return self.override or self.learned

    def observe(self, ts: int, current_a: float, min_dwell_ms: int) -> tuple[int, int] | None:
        """Feed one reading (in timestamp order). Returns (new state, since when) on a change."""
        log_value = log_current(current_a)
        # only plateau readings teach the levels: spikes and ramps are not levels
        if abs(log_value - self.prev_log) <= PLATEAU_TOLERANCE:
            add_sample(self.hist, log_value)
            self.since_learn += 1
        self.prev_log = log_value

        state = self.state
        level = level_for(current_a, state, self.override or self.learned)
        if state == UNKNOWN or state == OFFLINE:
            return self._commit(level, max(ts, self.since))
        if level == state:
            self.pending = NONE
            return None
        if level != self.pending:
            self.pending, self.pending_since = level, ts
        if ts - self.pending_since >= min_dwell_ms:
            return self._commit(self.pending, self.pending_since)
        return None

    def _commit(self, state: int, at: int) -> tuple[int, int]:
        self.state, self.since, self.pending = state, at, NONE
        return state, at

    def go_offline(self, at: int) -> tuple[int, int] | None:
        if self.state == OFFLINE:
            return None
        self.prev_log = -99.0
        return self._commit(OFFLINE, max(at, self.since))

    def learning_due(self) -> bool:
        settled = self.learned.source == "learned"
        return self.since_learn >= (RELEARN_SETTLED if settled else RELEARN_EARLY) and sum(self.hist) >= MIN_SAMPLES

    def relearn(self) -> bool:
        """Learn the levels again; True when the thresholds changed."""
        self.since_learn = 0
        fresh = learn(self.hist)
        changed = fresh != self.learned
        self.learned = fresh
        return changed


class Track(Classifier):
    """A classifier with what the tracker keeps about the sensor's rhythm."""

    __slots__ = ("last_ts", "last_arrival", "interval")

    def __init__(self, now_ms: int, interval_ms: int, learned: Thresholds = DEFAULT_THRESHOLDS,
                 hist: array | None = None):
        super().__init__(learned, hist)
        self.last_ts = -1  # no reading yet
        self.last_arrival = now_ms
        self.interval = interval_ms
