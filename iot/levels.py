"""Each instrument's current levels, learned from its own history.

The history is a histogram of log10(current) over readings taken on a plateau
(close to the reading before), so start-up spikes and the ramps between levels
do not pose as levels. Learning finds the best split of that histogram into
one, two or three levels (1-D k-means, exact on the histogram), keeps the
largest number of levels that are really apart, and names them:

    three levels          off, standby, on
    two, the lower ~0     off and one powered level: taken as standby until a
                          clearly higher level shows up (provisional)
    two, both powered     standby and on (never seen off)
    one                   provisional, around that level

Thresholds sit between neighbouring levels, weighted by their spreads; the
hysteresis band is a fifth of the gap between the levels on each side.
"""
from __future__ import annotations

import math
from array import array
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np

FLOOR_A = 0.03  # what a clamp sensor reads on a dead circuit, give or take; less is noise
LOG_MIN = math.log10(FLOOR_A)
BIN_WIDTH = 0.04  # decades (~10 % apart)
N_BINS = 114  # up to 1,000 A
HALVE_AT = 60_000  # counts are uint16; halving also lets old behaviour fade

OFF_LEVEL_MAX_A = 0.15  # a level below this is "off" (a powered large instrument draws more)
DEFAULT_OFF_BELOW_A = 0.15
DEFAULT_ON_ABOVE_A = 2.0
DEFAULT_HYSTERESIS = 1.25
MIN_SAMPLES = 90  # plateau readings before learning (30 min at one reading every 20 s)
MIN_GAP = 0.2  # decades between two levels (x1.6)
MIN_SPREAD = 0.02  # decades; noise is never less than this
SINGLE_LEVEL_ON_FACTOR = 1.8  # with one powered level known, "on" is anything this much above it
PLATEAU_TOLERANCE = 0.08  # decades between consecutive readings on a plateau (x1.2)

SOURCES = ("default", "provisional", "learned", "override")


@dataclass(frozen=True, slots=True)
class Thresholds:
    off_below_a: float  # below: off
    on_above_a: float  # above: on; between: standby
    hysteresis: float  # ratio > 1: leaving a state needs crossing threshold x/÷ this
    source: str = "default"
    note: str = ""
    bridge_s: float = 0.0  # a duty-cycling load: "on" is not left for a gap shorter than this

    def describe(self) -> str:
        bridge = f", cycling: stays on across gaps up to {self.bridge_s:.0f} s" if self.bridge_s else ""
        text = (f"off < {self.off_below_a:.3g} A, on > {self.on_above_a:.3g} A, "
                f"hysteresis x{self.hysteresis:.3f}{bridge} ({self.source})")
        return f"{text}: {self.note}" if self.note else text


DEFAULT_THRESHOLDS = Thresholds(DEFAULT_OFF_BELOW_A, DEFAULT_ON_ABOVE_A, DEFAULT_HYSTERESIS, "default",
                                f"not enough history yet (fewer than {MIN_SAMPLES} steady readings)")


def new_histogram() -> array:
    return array("H", bytes(2 * N_BINS))


def log_current(current_a: float) -> float:
    return LOG_MIN if current_a <= FLOOR_A else math.log10(current_a)


def add_sample(hist: array, log_value: float) -> None:
    i = int((log_value - LOG_MIN) / BIN_WIDTH)
    i = N_BINS - 1 if i >= N_BINS else i
    if hist[i] >= HALVE_AT:
        for j in range(N_BINS):
            hist[j] >>= 1
    hist[i] += 1


@dataclass(frozen=True)
class Level:
    centre: float  # log10 A
    spread: float  # decades
    weight: int

    @property
    def amps(self) -> float:
        return 10 ** self.centre


def best_split(x: np.ndarray, w: np.ndarray, k: int) -> list[Level]:
    """Exact 1-D k-means (k <= 3) over weighted points sorted by x."""
    m = len(x)
    cw = np.concatenate(([0.0], np.cumsum(w)))
    c1 = np.concatenate(([0.0], np.cumsum(w * x)))
    c2 = np.concatenate(([0.0], np.cumsum(w * x * x)))

    def cost(i: np.ndarray | int, j: np.ndarray | int) -> np.ndarray:
        n = cw[j] - cw[i]
        s = c1[j] - c1[i]
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(n > 0, (c2[j] - c2[i]) - np.where(n > 0, s * s / np.maximum(n, 1e-12), 0.0), 0.0)

    if k == 1:
        cuts: list[int] = []
    elif k == 2:
        a = np.arange(1, m)
        cuts = [int(a[np.argmin(cost(0, a) + cost(a, m))])]
    else:
        a, b = np.meshgrid(np.arange(1, m), np.arange(1, m), indexing="ij")
        total = np.where(a < b, cost(0, a) + cost(a, b) + cost(b, m), np.inf)
        ia, ib = np.unravel_index(int(np.argmin(total)), total.shape)
        cuts = [int(a[ia, ib]), int(b[ia, ib])]
    levels = []
    for lo, hi in zip([0, *cuts], [*cuts, m]):
        n = float(cw[hi] - cw[lo])
        mean = float((c1[hi] - c1[lo]) / n)
        var = max(float((c2[hi] - c2[lo]) / n) - mean * mean, 0.0)
        levels.append(Level(mean, max(math.sqrt(var), MIN_SPREAD), int(n)))
    return levels


def _apart(levels: list[Level], total: int) -> bool:
    min_weight = max(5, total // 500)
    if any(lv.weight < min_weight for lv in levels):
        return False
    return all(
        b.centre - a.centre >= max(MIN_GAP, 3 * max(a.spread, b.spread)) for a, b in zip(levels, levels[1:])
    )


def split_levels(hist: Sequence[int], log_min: float, bin_width: float,
                 distinct: Callable[[list[Level], np.ndarray, int], bool], min_spread: float = MIN_SPREAD) -> list[Level]:
    """The levels of a histogram (bins of `bin_width` decades from `log_min`), lowest first: three or two
    if `distinct` accepts them, else one; empty without enough history."""
    counts = np.frombuffer(bytes(array("H", hist)), dtype=np.uint16).astype(np.float64)
    occupied = np.nonzero(counts)[0]
    total = int(counts.sum())
    if total < MIN_SAMPLES:
        return []
    x = log_min + (occupied + 0.5) * bin_width
    w = counts[occupied]
    for k in (3, 2):
        if len(occupied) >= k:
            levels = [Level(lv.centre, max(lv.spread, min_spread), lv.weight) for lv in best_split(x, w, k)]
            if distinct(levels, counts, total):
                return levels
    only = best_split(x, w, 1)[0]
    return [Level(only.centre, max(only.spread, min_spread), only.weight)]


def find_levels(hist: Sequence[int]) -> list[Level]:
    """The distinct levels of a histogram, lowest first (empty without enough history)."""
    return split_levels(hist, LOG_MIN, BIN_WIDTH, lambda levels, _counts, total: _apart(levels, total))


def _boundary(a: Level, b: Level) -> float:
    return a.centre + (b.centre - a.centre) * a.spread / (a.spread + b.spread)


def _band(*gaps: float) -> float:
    return 10 ** (0.2 * min(gaps))


def learn(hist: Sequence[int]) -> Thresholds:
    levels = find_levels(hist)
    if not levels:
        return DEFAULT_THRESHOLDS
    off_max = math.log10(OFF_LEVEL_MAX_A)
    if len(levels) == 3:
        off, standby, on = levels
        return Thresholds(10 ** _boundary(off, standby), 10 ** _boundary(standby, on),
                          _band(standby.centre - off.centre, on.centre - standby.centre), "learned",
                          f"levels off {off.amps:.3g} A, standby {standby.amps:.3g} A, on {on.amps:.3g} A")
    if len(levels) == 2:
        low, high = levels
        if low.centre < off_max:
            on_above = high.amps * SINGLE_LEVEL_ON_FACTOR
            return Thresholds(10 ** _boundary(low, high), on_above,
                              _band(high.centre - low.centre, math.log10(SINGLE_LEVEL_ON_FACTOR)), "provisional",
                              f"one powered level seen ({high.amps:.3g} A), taken as standby until a higher one shows")
        return Thresholds(min(DEFAULT_OFF_BELOW_A, low.amps / 3), 10 ** _boundary(low, high),
                          _band(high.centre - low.centre), "learned",
                          f"levels standby {low.amps:.3g} A, on {high.amps:.3g} A; never seen off")
    (only,) = levels
    if only.centre < off_max:
        return Thresholds(max(DEFAULT_OFF_BELOW_A, only.amps * 3), DEFAULT_ON_ABOVE_A, DEFAULT_HYSTERESIS,
                          "provisional", f"only seen off ({only.amps:.3g} A)")
    return Thresholds(min(DEFAULT_OFF_BELOW_A, only.amps / 3), only.amps * SINGLE_LEVEL_ON_FACTOR,
                      _band(math.log10(SINGLE_LEVEL_ON_FACTOR)), "provisional",
                      f"only one level seen ({only.amps:.3g} A), taken as standby")
