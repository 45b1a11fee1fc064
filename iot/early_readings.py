"""Readings kept while an instrument's levels are not learned yet, to read them again once they are.

An instrument's first hours are read with default or provisional levels: a spectrometer that starts
the week in an overnight run shows one level, taken as standby. Once its levels are learned, the
readings of that period are replayed with them and the stored history is amended. The buffer stays
small: when it is full every other reading is dropped and from then on only every second (fourth, …)
reading is kept, so it always spans the whole unlearned period at a coarser step. The tracker keeps
buffers for a bounded number of instruments at a time (TrackerRules.early_tracks).
"""
from __future__ import annotations

from array import array

from iot.payloads import Reading

CAPACITY = 2048  # readings: 24 KB per instrument


class EarlyReadings:
    __slots__ = ("ts", "amps", "stride", "skipped")

    def __init__(self) -> None:
        self.ts = array("q")
        self.amps = array("f")
        self.stride = 1  # keep every stride-th reading
        self.skipped = 0

    def add(self, stamp: int, amps: float) -> None:
        self.skipped += 1
        if self.skipped < self.stride:
            return
        self.skipped = 0
        self.ts.append(stamp)
        self.amps.append(amps)
        if len(self.ts) >= CAPACITY:
            self.ts, self.amps = self.ts[::2], self.amps[::2]
            self.stride *= 2

    def readings(self, clock_offset_ms: int = 0) -> list[Reading]:
        """In time order (a gateway's late backlog is added when it arrives), re-dated by the gateway's
        clock offset as estimated now (the buffer holds the stamps as the gateway wrote them)."""
        unique = dict(zip(self.ts, self.amps))  # a reading delivered twice is one reading
        return sorted(Reading(t - clock_offset_ms, float(a)) for t, a in unique.items())
