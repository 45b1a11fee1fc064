"""Recognising a duty-cycling load from the raw levels of its readings.

A furnace holding temperature switches its heater on and off every few
minutes: read reading by reading it is a string of short "on" bursts and short
"standby" gaps, yet the instrument is in use the whole time. Human-driven runs
differ in two ways: a run lasts longer than a heater burst, and the pauses
between runs are irregular. So a *cycle train* is at least MIN_TRAIN
consecutive bursts, each shorter than MAX_BURST_S, separated by gaps shorter
than MAX_GAP_S whose lengths vary little (coefficient of variation under
MAX_GAP_CV). One train makes an instrument cycling; its bridge is 1.5x the
longest gap seen inside trains: the classifier stays "on" across shorter gaps.
A train that closes is also reported (`closed`), so that the tracker can mend
the flips it made before the bridge was known.
"""
from __future__ import annotations

import statistics

MAX_BURST_S = 600.0
MAX_GAP_S = 480.0
MIN_TRAIN = 8
MIN_LOOSE_TRAIN = 2  # gaps, once the instrument is known to cycle
PERIODS_BRIDGED = 2.5
ALIASED_PERIODS_BRIDGED = 5.0  # bursts a reading long: a slow sensor in step with the heater misses several
MAX_BRIDGE_S = 1800.0  # the change is dated back to the last burst, so a long bridge costs no hours
MAX_GAP_CV = 0.35  # a thermostat keeps its rhythm; an operator's back-to-back runs rarely do, eight times over
MAX_DUTY = 0.85  # "on" nearly all the time with one-reading dips is noise on a run, not a thermostat
BRIDGE_FACTOR = 1.5


class CycleWatch:
    """Raw-level runs of one instrument, and the cycle trains found in them."""

    __slots__ = ("raw", "raw_since", "burst_s", "burst_end", "gaps", "bursts", "train_start", "trains",
                 "longest_gap_s", "periods", "duties", "closed", "fresh", "bridge")

    def __init__(self) -> None:
        self.raw = -1  # raw level of the last reading (plain thresholds, no hysteresis)
        self.raw_since = 0  # ms
        self.burst_s = -1.0  # length of the last "on" burst if it was short, else -1
        self.burst_end = -1  # ms: when the last "on" run (short or long) ended
        self.gaps: list[float] = []  # the current train's gaps, and the burst before each
        self.bursts: list[float] = []
        self.train_start = -1
        self.trains = 0
        self.longest_gap_s = 0.0
        self.periods: list[float] = []  # one median period and duty per train (the last few)
        self.duties: list[float] = []
        self.closed: tuple[int, int] | None = None  # (start, end) ms of a train that just closed
        self.fresh = False  # a train was counted since the levels were last learned
        self.bridge = 0.0  # s: how long a gap "on" survives (0: not seen cycling)

    def see(self, ts: int, raw: int, on: int, interval_ms: int) -> None:
        """One reading's raw level (`on` is the code of the "on" level) and the sensor's interval."""
        if raw == self.raw:
            if self.gaps and raw != on and ts - self.raw_since > MAX_GAP_S * 1000:
                self._close_train(interval_ms / 1000)  # the cycling has stopped: count it now, not at the next run
            return
        length = (ts - self.raw_since) / 1000.0
        if self.raw == on:  # a burst ended
            if length > MAX_BURST_S:
                self._close_train(interval_ms / 1000)
            self.burst_s = length if length <= MAX_BURST_S else -1.0
            self.burst_end = ts
        elif raw == on and self.raw >= 0:  # a gap ended with a new burst
            if self.burst_end == self.raw_since and length <= max(MAX_GAP_S, self.bridge):
                if not self.gaps:  # the train starts where the run before this gap ended
                    self.train_start = self.burst_end - int(self.burst_s * 1000) if self.burst_s >= 0 else self.burst_end
                if self.burst_s >= 0:
                    self.gaps.append(length)
                    self.bursts.append(self.burst_s)
            else:
                self._close_train(interval_ms / 1000)
        self.raw, self.raw_since = raw, ts

    def _close_train(self, interval_s: float) -> None:
        gaps, bursts = self.gaps, self.bursts
        if len(gaps) >= MIN_TRAIN:
            mean = statistics.fmean(gaps)
            period = statistics.median(g + b for g, b in zip(gaps, bursts))
            duty = statistics.median(bursts) / period if period else 1.0
            # gaps are measured in whole readings: allow one reading's worth of spread on top
            if mean > 0 and statistics.pstdev(gaps) <= MAX_GAP_CV * mean + interval_s and duty <= MAX_DUTY:
                self.trains += 1
                self.fresh = True
                self.longest_gap_s = max(self.longest_gap_s, max(gaps))
                self.periods = [*self.periods[-4:], period]
                self.duties = [*self.duties[-4:], duty]
                self.closed = (self.train_start, self.burst_end)
                periods = ALIASED_PERIODS_BRIDGED if statistics.median(bursts) <= 1.5 * interval_s else PERIODS_BRIDGED
                self.bridge = min(max(BRIDGE_FACTOR * self.longest_gap_s,
                                      periods * statistics.median(self.periods)), MAX_BRIDGE_S)
            elif self.trains and duty <= MAX_DUTY:
                # a load known to cycle whose bursts a slow sensor partly missed (aliasing makes the
                # gaps uneven): still one run, though it teaches nothing about the period
                self.closed = (self.train_start, self.burst_end)
        elif self.trains and len(gaps) >= MIN_LOOSE_TRAIN:
            self.closed = (self.train_start, self.burst_end)
        self.gaps, self.bursts = [], []

    def bridge_s(self) -> float:
        """How long a gap "on" survives: 0 unless the instrument was seen cycling."""
        return self.bridge

    def describe(self) -> str:
        if not self.trains:
            return "no duty cycling seen"
        return (f"duty cycling: {self.trains} trains, period ~{statistics.median(self.periods):.0f} s, "
                f"duty ~{statistics.median(self.duties):.0%}")
