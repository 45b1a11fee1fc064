"""A sensor gateway's clock offset, estimated from when its readings arrive.

For a gateway with a good clock, arrival - stamp is the network delay: under a
couple of seconds. A clock running 90 s fast shows -90 s on every live reading.
Each instrument keeps the last WINDOW such differences, one per delivery that
moves its history forward (a buffered backlog tells nothing about the clock),
and judges them only once they span SPAN_MS of arrivals (a burst of old
readings replayed at once is not a clock). Their median is the offset when it
is past TOLERANCE_MS and the samples agree (median absolute deviation under
SPREAD_MS); readings are then re-dated by it. Samples that disagree are
delivery jitter, not a clock: nothing is corrected. A steady offset past
MAX_OFFSET_MS cannot be trusted: those readings are refused and counted.
"""
from __future__ import annotations

from array import array

WINDOW = 9
MIN_SAMPLES = 5
SPAN_MS = 60_000
TOLERANCE_MS = 5_000  # network delay and jitter: no correction below this
SPREAD_MS = 10_000
MAX_OFFSET_MS = 5 * 60_000  # the same bound as readings stamped in the future (IOT_MAX_AHEAD_SECONDS)


class ClockWatch:
    __slots__ = ("samples", "arrivals", "count", "offset_ms", "trusted")

    def __init__(self) -> None:
        self.samples = array("q", bytes(8 * WINDOW))
        self.arrivals = array("q", bytes(8 * WINDOW))
        self.count = 0
        self.offset_ms = 0  # subtract from a stamp to get the platform's time
        self.trusted = True

    def see(self, stamp_ms: int, arrival_ms: int) -> None:
        slot = self.count % WINDOW
        self.samples[slot], self.arrivals[slot] = stamp_ms - arrival_ms, arrival_ms
        self.count += 1
        if self.count < MIN_SAMPLES or self.count % 4:  # re-estimate every fourth delivery: cheap enough
            return
        n = min(self.count, WINDOW)
        arrivals = self.arrivals[:n]
        if max(arrivals) - min(arrivals) < SPAN_MS:
            return
        values = sorted(self.samples[:n])
        median = values[n // 2]
        steady = sorted(abs(v - median) for v in values)[n // 2] <= SPREAD_MS
        self.trusted = not steady or abs(median) <= MAX_OFFSET_MS
        self.offset_ms = median if steady and self.trusted and abs(median) > TOLERANCE_MS else 0

    def describe(self) -> str:
        if self.count < MIN_SAMPLES:
            return "clock: not enough live readings yet"
        if not self.trusted:
            return "clock: offset cannot be trusted, readings refused"
        if not self.offset_ms:
            return "clock: in step (within 5 s)"
        return f"clock: {abs(self.offset_ms) / 1000:.0f} s {'fast' if self.offset_ms > 0 else 'slow'}, corrected"
