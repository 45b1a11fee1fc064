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
from iot.level_learning import add_sample, learn, new_histogram
from iot.levels import DEFAULT_THRESHOLDS, PLATEAU_TOLERANCE, Thresholds, log_current

FAULT = 4  # offline because the sensor is dead; stored as "offline" with a reason
SENSOR_FAULT = "sensor_fault"
ZERO_A = 0.001  # a clamp on a live circuit never reads less; a dead or unplugged one reads 0
FAULT_AFTER_MS = 5 * 60_000
HISTORY = 256  # recent committed states kept for amending (late data, a duty-cycle train)


class AdaptiveTrack(Track):
    __slots__ = ("cycles", "pending_last", "dead_since", "fault_after_ms", "clock", "history")

    def __init__(self, now_ms: int, interval_ms: int, learned: Thresholds = DEFAULT_THRESHOLDS,
                 hist: array | None = None, fault_after_ms: int = FAULT_AFTER_MS):
        super().__init__(now_ms, interval_ms, learned, hist if hist is not None else new_histogram())
        self.cycles = CycleWatch()
        self.pending_last = 0
        self.dead_since = -1
        self.fault_after_ms = fault_after_ms
        self.clock = ClockWatch()
        self.history: list[tuple[int, int]] = []  # (state, since ms), oldest first

    def observe(self, ts: int, current_a: float, min_dwell_ms: int) -> tuple[int, int] | None:
        if current_a <= ZERO_A and self.fault_after_ms:
            return self._dead(ts)
        self.dead_since = -1
        log_value = log_current(current_a)
        if abs(log_value - self.prev_log) <= PLATEAU_TOLERANCE:
            add_sample(self.hist, log_value)
            self.since_learn += 1
        self.prev_log = log_value

        th = self.override or self.learned
        # the raw level, without hysteresis, for the duty-cycle watch (inlined: this runs per reading)
        self.cycles.see(ts, ON if current_a > th.on_above_a else (STANDBY if current_a > th.off_below_a else OFF), ON)
        state = self.state
        level = level_for(current_a, state, th)
        if state == UNKNOWN or state == OFFLINE or state == FAULT:
            return self._commit(level, max(ts, self.since))
        bridge = int(th.bridge_s * 1000)
        if level == state:
            # a cycling load's pending "on" survives its heater's off-gaps
            if not (self.pending == ON and ts - self.pending_last <= bridge):
                self.pending = NONE
            return None
        if level != self.pending:
            self.pending, self.pending_since = level, ts
        self.pending_last = ts
        need = bridge if state == ON and level == STANDBY and bridge > min_dwell_ms else min_dwell_ms
        if ts - self.pending_since >= need:
            return self._commit(self.pending, self.pending_since)
        return None

    def _dead(self, ts: int) -> tuple[int, int] | None:
        if self.dead_since < 0:
            self.dead_since = ts
        self.prev_log = -99.0
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
