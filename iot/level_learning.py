"""Each instrument's current levels, learned from its own history (the adaptive
method; `iot.levels` is the first one, kept as the evaluation's baseline).

What changed against the baseline, and why:

- Levels may be close. Two levels are told apart by separation in units of
  their own noise and by a valley in the histogram between them, not by a
  fixed ratio: a mass spectrometer idling at 2.0 A and running at 2.6 A is two
  levels when each is steady to a few per cent. The histogram is twice as fine
  (0.02 decades) so that such levels are several bins apart.
- The hysteresis comes from the boundary's own margins. A narrow standby next
  to a wide "on" puts the spread-weighted boundary near standby; the band is a
  share of the distance from the boundary to the nearer level's edge, so the
  exit point always stays above the standby readings.
- A duty-cycling load (a furnace holding temperature) is described by the
  longest heater-off gap inside its cycles (`bridge_s`, from iot.duty_cycles):
  the classifier does not leave "on" for a gap shorter than that.
"""
from __future__ import annotations

import math
from array import array
from typing import Sequence

import numpy as np

from iot.levels import (
    DEFAULT_HYSTERESIS, DEFAULT_OFF_BELOW_A, DEFAULT_ON_ABOVE_A, FLOOR_A, MIN_SAMPLES, OFF_LEVEL_MAX_A,
    SINGLE_LEVEL_ON_FACTOR, Level, Thresholds, split_levels,
)

LOG_MIN = math.log10(FLOOR_A)
BIN_WIDTH = 0.02  # decades (~5 % apart)
N_BINS = 227  # up to 1,000 A
HALVE_AT = 60_000
MIN_GAP = 0.05  # decades: closer than ~12 % is one level, however quiet
MIN_SPREAD = 0.012  # decades: a level is never taken as steadier than ~3 %
SEPARATION = 2.5  # the gap between two levels, in their mean spread… (never bimodal under 2)
VALLEY = 0.6  # … and the histogram between them falls below 60 % of the smaller peak
BAND_SHARE = 0.3  # hysteresis: this share of the boundary's margin to the nearer level
MIN_BAND = 0.004  # decades (~1 %)


def new_histogram() -> array:
    return array("H", bytes(2 * N_BINS))


def add_sample(hist: array, log_value: float) -> None:
    i = int((log_value - LOG_MIN) / BIN_WIDTH)
    i = 0 if i < 0 else (N_BINS - 1 if i >= N_BINS else i)
    if hist[i] >= HALVE_AT:
        for j in range(N_BINS):
            hist[j] >>= 1
    hist[i] += 1


def _bin(log_value: float) -> int:
    return min(N_BINS - 1, max(0, int((log_value - LOG_MIN) / BIN_WIDTH)))


def _distinct(levels: list[Level], counts: np.ndarray, total: int) -> bool:
    if any(lv.weight < max(5, total // 200) for lv in levels):
        return False
    smooth = counts  # bins of 0.02 decades are wide enough; smoothing would fill the valley of close levels
    for a, b in zip(levels, levels[1:]):
        gap = b.centre - a.centre
        if gap < max(MIN_GAP, SEPARATION * (a.spread + b.spread) / 2):
            return False
        ia, ib = _bin(a.centre), _bin(b.centre)
        if ib - ia < 2:
            return False
        valley = float(smooth[ia + 1: ib].min())
        peak_a = float(smooth[max(0, ia - 1): ia + 2].max())
        peak_b = float(smooth[max(0, ib - 1): ib + 2].max())
        if valley > VALLEY * min(peak_a, peak_b):
            return False
    return True


def find_levels(hist: Sequence[int]) -> list[Level]:
    """The distinct levels of a histogram, lowest first (empty without enough history)."""
    return split_levels(hist, LOG_MIN, BIN_WIDTH, _distinct, MIN_SPREAD)


def _boundary(a: Level, b: Level) -> tuple[float, float]:
    """(boundary, margin): where the two levels are equally many spreads away, and how far
    the boundary is from the nearer level's centre (the band must stay inside it)."""
    at = a.centre + (b.centre - a.centre) * a.spread / (a.spread + b.spread)
    return at, min(at - a.centre, b.centre - at)


def _ratio(*margins: float) -> float:
    return 10 ** max(MIN_BAND, BAND_SHARE * min(margins))


def learn(hist: Sequence[int], bridge_s: float = 0.0, cycle_note: str = "") -> Thresholds:
    """Thresholds from the histogram; bridge_s and its note come from the duty-cycle watch."""
    levels = find_levels(hist)
    tail = f"; {cycle_note}" if cycle_note else ""
    if not levels:
        return Thresholds(DEFAULT_OFF_BELOW_A, DEFAULT_ON_ABOVE_A, DEFAULT_HYSTERESIS, "default",
                          f"not enough history yet (fewer than {MIN_SAMPLES} steady readings){tail}", bridge_s)
    off_max = math.log10(OFF_LEVEL_MAX_A)
    if len(levels) == 3:
        off, standby, on = levels
        (b1, m1), (b2, m2) = _boundary(off, standby), _boundary(standby, on)
        return Thresholds(10 ** b1, 10 ** b2, _ratio(m1, m2), "learned",
                          f"levels off {off.amps:.3g} A, standby {standby.amps:.3g} A, on {on.amps:.3g} A{tail}",
                          bridge_s)
    if len(levels) == 2:
        low, high = levels
        b, m = _boundary(low, high)
        if low.centre < off_max:
            factor = math.log10(SINGLE_LEVEL_ON_FACTOR)
            return Thresholds(10 ** b, high.amps * SINGLE_LEVEL_ON_FACTOR, _ratio(m, factor / 2), "provisional",
                              f"one powered level seen ({high.amps:.3g} A), taken as standby until a higher one "
                              f"shows{tail}", bridge_s)
        return Thresholds(min(DEFAULT_OFF_BELOW_A, low.amps / 3), 10 ** b, _ratio(m), "learned",
                          f"levels standby {low.amps:.3g} A, on {high.amps:.3g} A; never seen off{tail}", bridge_s)
    (only,) = levels
    if only.centre < off_max:
        return Thresholds(max(DEFAULT_OFF_BELOW_A, only.amps * 3), DEFAULT_ON_ABOVE_A, DEFAULT_HYSTERESIS,
                          "provisional", f"only seen off ({only.amps:.3g} A){tail}", bridge_s)
    factor = math.log10(SINGLE_LEVEL_ON_FACTOR)
    return Thresholds(min(DEFAULT_OFF_BELOW_A, only.amps / 3), only.amps * SINGLE_LEVEL_ON_FACTOR,
                      _ratio(factor / 2), "provisional",
                      f"only one level seen ({only.amps:.3g} A), taken as standby{tail}", bridge_s)
