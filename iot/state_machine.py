"""One instrument's state from its readings, by the adaptive method.

It is the baseline's state machine (iot.classifier: levels, hysteresis, a
minimum dwell dated back to the first reading) with three additions:

- levels and hysteresis learned by iot.level_learning (close levels, margins);
- duty cycles (iot.duty_cycles): once an instrument is seen cycling, "on" is
  not left for a gap shorter than its bridge, and a pending "on" survives such
  gaps, so a furnace holding temperature is on for the whole hold;
- a dead clamp: exact zeros (or readings under ZERO_A) for FAULT_AFTER_MS are
  a sensor fault, not an instrument that is off. The state becomes offline with
  the reason "sensor_fault", dated from the first dead reading.
"""
from __future__ import annotations

from array import array

from iot.classifier import NONE, OFF, OFFLINE, ON, STANDBY, UNKNOWN, Track, level_for
from iot.clock_offset import ClockWatch
from iot.duty_cycles import CycleWatch
from iot.early_readings import EarlyReadings
from iot.level_learning import add_sample, learn, new_histogram
from iot.levels import DEFAULT_THRESHOLDS, PLATEAU_TOLERANCE, Thresholds, log_current

FAULT = 4  # offline because the sensor is dead; stored as "offline" with a reason
SENSOR_FAULT = "sensor_fault"
ZERO_A = 0.001  # a clamp on a live circuit never reads less; a dead or unplugged one reads 0
FAULT_AFTER_MS = 5 * 60_000
HISTORY = 256  # recent committed states kept for amending (late data, a duty-cycle train)


class AdaptiveTrack(Track):
    __slots__ = ("cycles", "pending_last", "dead_since", "fault_after_ms", "clock", "history", "v1", "v2", "t1",
                 "plateau_before", "early")

    def __init__(self, now_ms: int, interval_ms: int, learned: Thresholds = DEFAULT_THRESHOLDS,
                 hist: array | None = None, fault_after_ms: int = FAULT_AFTER_MS):
        super().__init__(now_ms, interval_ms, learned, hist if hist is not None else new_histogram())
        self.cycles = CycleWatch()
        self.pending_last = 0
        self.dead_since = -1
        self.fault_after_ms = fault_after_ms
        self.clock = ClockWatch()
        self.history: list[tuple[int, int]] = []  # (state, since ms), oldest first
        self.v1 = self.v2 = 0.0  # the two readings before (A), 0: none yet
        self.t1 = 0
        self.plateau_before = False
        self.early: EarlyReadings | None = None  # readings of the period before the levels were learned

    def observe(self, ts: int, current_a: float, min_dwell_ms: int) -> tuple[int, int] | None:
        if current_a <= ZERO_A and self.fault_after_ms:
            return self._dead(ts)
        self.dead_since = -1
        v1, v2 = self.v1, self.v2
        log_value = log_current(current_a)
        plateau = abs(log_value - self.prev_log) <= PLATEAU_TOLERANCE
        if plateau and self.plateau_before:
            # three steady readings in a row teach their mean: the noise of a level shrinks by sqrt(3),
            # so levels a few noise widths apart (a spectrometer's idle and run) stand apart
            add_sample(self.hist, log_current((current_a + v1 + v2) / 3))
            self.since_learn += 1
        self.plateau_before = plateau
        self.prev_log = log_value

        th = self.override or self.learned
        # the raw level, without hysteresis, for the duty-cycle watch (inlined: this runs per reading)
        raw = ON if current_a > th.on_above_a else (STANDBY if current_a > th.off_below_a else OFF)
        self.cycles.see(ts, raw, ON, self.interval)
        bridge = int(th.bridge_s * 1000)
        # a steady load is read through the median of its last three readings (a one-reading glitch or
        # the noise between close levels does not count); a cycling one reading by reading (a heater
        # burst may be one reading long)
        smoothed = not bridge and v2 > 0.0
        value = sorted((current_a, v1, v2))[1] if smoothed else current_a
        t1 = self.t1
        self.v2, self.v1, self.t1 = v1, current_a, ts
        state = self.state
        level = level_for(value, state, th)
        if state == UNKNOWN or state == OFFLINE or state == FAULT:
            return self._commit(level, max(ts, self.since))
        if level == state:
            # a cycling load's pending "on" survives its heater's off-gaps
            if not (self.pending == ON and ts - self.pending_last <= bridge):
                self.pending = NONE
            return None
        if level != self.pending:
            # through the median a new level shows one reading late: it began with the reading before
            # when that one already showed it
            self.pending = level
            self.pending_since = t1 if smoothed and level_for(v1, UNKNOWN, th) == level else ts
        self.pending_last = ts
        need = bridge if state == ON and level == STANDBY and bridge > min_dwell_ms else min_dwell_ms
        if ts - self.pending_since >= need:
            return self._commit(self.pending, self.pending_since)
        return None

    def go_offline(self, at: int) -> tuple[int, int] | None:
        self.v1, self.v2, self.plateau_before = 0.0, 0.0, False  # no median across an outage
        return super().go_offline(at)

    def _dead(self, ts: int) -> tuple[int, int] | None:
        if self.dead_since < 0:
            self.dead_since = ts
        self.prev_log, self.v1, self.v2, self.plateau_before = -99.0, 0.0, 0.0, False
        if self.state != FAULT and ts - self.dead_since >= self.fault_after_ms:
            return self._commit(FAULT, max(self.dead_since, self.since))
        return None

    def _commit(self, state: int, at: int) -> tuple[int, int]:
        change = super()._commit(state, at)
        history = self.history
        history.append(change)
        if len(history) > HISTORY:
            del history[0]
        return change

    def learning_due(self) -> bool:
        # a newly seen cycle train changes the bridge: learn at once rather than hours later
        return self.cycles.fresh or super().learning_due()

    def relearn(self) -> bool:
        self.since_learn = 0
        self.cycles.fresh = False
        fresh = learn(self.hist, self.cycles.bridge_s(), self.cycles.describe())
        changed = fresh != self.learned
        self.learned = fresh
        return changed

    def explain(self) -> str:
        return f"{self.cycles.describe()}; {self.clock.describe()}"
