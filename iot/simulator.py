"""Realistic current traces with their ground truth, and a publisher that
plays them to the broker as sensor gateways would.

Instruments follow a working week: switched on in the morning (an inrush
spike), runs of a type-dependent length between idle stretches in standby,
sometimes an overnight run, switched off (or left in standby; vacuum
instruments never go off). Levels differ by type and unit, readings are noisy,
with one-reading spikes, lost readings, network outages and sensors that die.
The truth is the physical state at every reporting instant, or "offline"
while the sensor is silent for longer than a lost reading or two.
"""
from __future__ import annotations

import json
import logging
import random
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Callable, Iterator, Sequence
from zoneinfo import ZoneInfo

import numpy as np

from iot.classifier import OFF, OFFLINE, ON, STANDBY, STATE_NAMES
from iot.payloads import Reading, Topics, gateway_payload, telemetry_payload

log = logging.getLogger(__name__)

HOUR = 3600.0
MINUTE = 60.0


@dataclass(frozen=True)
class InstrumentType:
    name: str
    off_a: float  # residual current of a switched-off unit
    standby_a: float
    on_a: float
    wobble: float  # relative swing of the on level between runs and within (ovens, loads)
    noise: float  # multiplicative noise (sigma)
    never_off: bool  # vacuum or cryo: standby rather than off
    run_minutes: tuple[float, float]


TYPES: tuple[InstrumentType, ...] = (
    InstrumentType("HPLC", 0.02, 0.7, 2.4, 0.08, 0.04, False, (20, 180)),
    InstrumentType("GC", 0.02, 1.1, 4.5, 0.22, 0.05, False, (30, 120)),
    InstrumentType("LC-MS", 0.03, 4.2, 8.8, 0.06, 0.03, True, (30, 240)),
    InstrumentType("ICP-MS", 0.02, 2.8, 14.0, 0.05, 0.03, True, (60, 300)),
    InstrumentType("SEM", 0.02, 1.8, 4.6, 0.06, 0.04, True, (30, 180)),
    InstrumentType("XRD", 0.02, 1.2, 7.5, 0.04, 0.03, False, (15, 120)),
    InstrumentType("UTM", 0.01, 1.5, 6.5, 0.25, 0.06, False, (5, 40)),
)


@dataclass
class Trace:
    code: str
    kind: str
    ts: np.ndarray  # int64 ms: the reporting instants
    current: np.ndarray  # float32 A
    truth: np.ndarray  # int8 state codes (OFF, STANDBY, ON, OFFLINE)
    published: np.ndarray  # bool: the sensor sent this reading
    # the sensor's own clock for each reading (a skewed gateway), default ts
    stamp: np.ndarray | None = None
    # when each reading reaches the ingestion (network delay, gateway buffers), default ts + 500 ms
    arrival: np.ndarray | None = None
    # bool: offline in the truth because the clamp is dead and sends zeros (reason sensor_fault)
    fault: np.ndarray | None = None

    def readings(self) -> Iterator[Reading]:
        stamps = self.ts if self.stamp is None else self.stamp
        for i in np.nonzero(self.published)[0]:
            yield Reading(int(stamps[i]), float(self.current[i]))

    def label_intervals(self) -> list[tuple[str, int, int]]:
        """The ground truth as (state, start ms, end ms) runs."""
        edges = np.nonzero(np.diff(self.truth))[0] + 1
        starts = np.concatenate(([0], edges))
        ends = np.concatenate((edges, [len(self.truth)]))
        step = int(self.ts[1] - self.ts[0]) if len(self.ts) > 1 else 0
        return [(STATE_NAMES[int(self.truth[s])], int(self.ts[s]), int(self.ts[e - 1]) + step)
                for s, e in zip(starts, ends)]


def _sessions(rng: random.Random, kind: InstrumentType, busy: float, gap_mean: float,
              v_start: float, v_end: float, tz: ZoneInfo) -> list[tuple[float, float, int]]:
    """(start, end, state) paintings in virtual seconds: powered sessions (standby) and runs (on)."""
    paint: list[tuple[float, float, int]] = []
    day = datetime.fromtimestamp(v_start, tz).replace(hour=0, minute=0, second=0, microsecond=0)
    busy_until = v_start
    while day.timestamp() < v_end:
        midnight = day.timestamp()
        workday = day.weekday() < 5
        if rng.random() < (busy if workday else busy * 0.15):
            p0 = max(midnight + rng.uniform(8.0, 10.0) * HOUR, busy_until)
            p1 = midnight + rng.uniform(16.5, 19.0) * HOUR
            if p0 < p1:
                runs: list[tuple[float, float, int]] = []
                t = p0 + rng.uniform(10, 30) * MINUTE  # warm-up in standby
                while t < p1:
                    run = rng.uniform(*kind.run_minutes) * MINUTE
                    runs.append((t, min(t + run, p1), ON))
                    t += run + min(max(rng.expovariate(1 / gap_mean), 5 * MINUTE), 3 * HOUR)
                if rng.random() < 0.08:  # an overnight batch
                    night_end = midnight + 24 * HOUR + rng.uniform(5, 8) * HOUR
                    runs.append((p1, night_end, ON))
                    p1 = night_end + rng.uniform(5, 20) * MINUTE
                elif rng.random() < 0.15:  # left in standby overnight
                    p1 += rng.uniform(6, 14) * HOUR
                # the session is painted first, its runs over it
                paint.append((p0, p1, STANDBY))
                paint.extend(runs)
                busy_until = p1
        elif rng.random() < 0.08:  # switched on, never used
            p0 = max(midnight + rng.uniform(9, 14) * HOUR, busy_until)
            p1 = p0 + rng.uniform(1, 5) * HOUR
            paint.append((p0, p1, STANDBY))
            busy_until = p1
        day = (day + timedelta(days=1, hours=2)).replace(hour=0)  # DST-safe next midnight
    return paint


def simulate(codes: Sequence[str], start_ms: int, duration_s: float, interval_s: float, seed: int = 1,
             time_scale: float = 1.0, tz: str = "Asia/Shanghai", schedule_from_ms: int | None = None) -> list[Trace]:
    """Traces for `codes` from start_ms, one reading every interval_s. With time_scale > 1 the
    working week runs that much faster (for a lively demo); levels and noise stay the same.
    schedule_from_ms sets the moment of the working week the traces begin at (default: start_ms)."""
    zone = ZoneInfo(tz)
    n = max(1, int(duration_s // interval_s))
    step_ms = int(round(interval_s * 1000))
    ts = start_ms + np.arange(n, dtype=np.int64) * step_ms
    secs = (ts - start_ms) / 1000.0
    traces = []
    for index, code in enumerate(codes):
        rng = random.Random(f"{seed}:{code}")
        nrng = np.random.default_rng(rng.getrandbits(63))
        kind = TYPES[index % len(TYPES)]
        unit = rng.uniform(0.8, 1.25)  # this unit's levels against its type
        idle_instrument = rng.random() < 0.3
        busy = rng.uniform(0.05, 0.2) if idle_instrument else rng.uniform(0.35, 0.95)
        gap_mean = rng.uniform(20, 90) * MINUTE
        v_start = (start_ms if schedule_from_ms is None else schedule_from_ms) / 1000.0
        paint = _sessions(rng, kind, busy, gap_mean, v_start, v_start + duration_s * time_scale, zone)

        base = STANDBY if kind.never_off else OFF
        truth = np.full(n, base, dtype=np.int8)
        run_factor = np.ones(n)
        for p0, p1, state in paint:
            lo = np.searchsorted(secs, (p0 - v_start) / time_scale)
            hi = np.searchsorted(secs, (p1 - v_start) / time_scale)
            truth[lo:hi] = state
            if state == ON:
                run_factor[lo:hi] = 1 + rng.uniform(-kind.wobble, kind.wobble)

        levels = np.array([kind.off_a, kind.standby_a * unit, kind.on_a * unit])
        current = levels[truth] * run_factor * np.exp(nrng.normal(0, kind.noise, n))
        on = truth == ON
        # ovens and loads cycle within a run
        current[on] *= 1 + kind.wobble * 0.5 * np.sin(secs[on] / (7 * MINUTE) * 2 * np.pi)
        current[truth == OFF] = kind.off_a + np.abs(nrng.normal(0, 0.008, int((truth == OFF).sum())))
        # inrush at power-up and at the start of a run
        rises = np.nonzero(np.diff(truth) > 0)[0] + 1
        current[rises] *= nrng.uniform(1.5, 2.5, len(rises))
        powered = np.nonzero(truth != OFF)[0]
        spikes = powered[nrng.random(len(powered)) < 0.002]
        current[spikes] *= nrng.uniform(2.0, 3.0, len(spikes))

        published = nrng.random(n) >= 0.004  # lost readings
        for _ in range(np.random.default_rng(rng.getrandbits(63)).poisson(1.2 * duration_s / (30 * 24 * HOUR))):
            o0 = rng.uniform(0, duration_s)
            length = min(max(rng.expovariate(1 / HOUR), 8 * MINUTE), 6 * HOUR)
            lo, hi = np.searchsorted(secs, [o0, o0 + length])
            truth[lo:hi], published[lo:hi] = OFFLINE, False
        if rng.random() < 0.06 * duration_s / (30 * 24 * HOUR):  # a sensor dies, replaced days later
            d0 = rng.uniform(0, duration_s)
            lo, hi = np.searchsorted(secs, [d0, d0 + rng.uniform(1, 3) * 24 * HOUR])
            truth[lo:hi], published[lo:hi] = OFFLINE, False
        traces.append(Trace(code, kind.name, ts, current.astype(np.float32), truth, published))
    return traces


def working_morning(now_ms: int, tz: str) -> int:
    """8:30 of the last working day on or before now (where a demo's week should begin)."""
    day = datetime.fromtimestamp(now_ms / 1000, ZoneInfo(tz))
    while day.weekday() >= 5:
        day -= timedelta(days=1)
    return int(day.replace(hour=8, minute=30, second=0, microsecond=0).timestamp() * 1000)


def write_labels(path: Path, traces: Sequence[Trace]) -> int:
    """The ground-truth file: one JSON line per state interval."""
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = 0
    with path.open("w", encoding="utf-8") as fh:
        for trace in traces:
            for state, start, end in trace.label_intervals():
                fh.write(json.dumps({"instrument": trace.code, "type": trace.kind, "state": state,
                                     "start_ms": start, "end_ms": end}) + "\n")
                lines += 1
    return lines


class Publisher:
    """Plays traces in real time: one MQTT client per gateway of up to `per_gateway`
    instruments, announcing itself retained and leaving a retained Last Will."""

    def __init__(self, host: str, port: int, topics: Topics, traces: Sequence[Trace], per_gateway: int = 50,
                 gateway_prefix: str = "sim", qos: int = 0):
        self.host, self.port, self.topics, self.qos = host, port, topics, qos
        self.traces = list(traces)
        self.groups = [self.traces[i: i + per_gateway] for i in range(0, len(self.traces), per_gateway)]
        self.gateway_ids = [f"{gateway_prefix}-{i:03d}" for i in range(len(self.groups))]
        self.clients: list = []
        self.published = 0

    def connect(self) -> None:
        import paho.mqtt.client as mqtt

        for gateway, group in zip(self.gateway_ids, self.groups):
            codes = [t.code for t in group]
            client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"gateway-{gateway}")
            status_topic = self.topics.gateway_status(gateway)
            client.will_set(status_topic, gateway_payload(False, codes), qos=1, retain=True)

            def announce(c, _userdata, _flags, reason, _props, topic=status_topic, codes=codes):  # type: ignore[no-untyped-def]
                if not reason.is_failure:
                    c.publish(topic, gateway_payload(True, codes), qos=1, retain=True)

            client.on_connect = announce
            client.reconnect_delay_set(1, 30)
            client.connect_async(self.host, self.port, keepalive=30)
            client.loop_start()
            self.clients.append(client)

    def play(self, stop: threading.Event, clock: Callable[[], float] = time.time) -> None:
        """Publish reading i of every trace at the trace's i-th instant, stamped with the real time."""
        if not self.traces:
            return
        start = self.traces[0].ts[0] / 1000.0
        for i in range(len(self.traces[0].ts)):
            due = self.traces[0].ts[i] / 1000.0
            while not stop.is_set() and clock() < due:
                stop.wait(min(0.5, due - clock()))
            if stop.is_set():
                return
            now_ms = int(clock() * 1000)
            for client, group in zip(self.clients, self.groups):
                for trace in group:
                    if trace.published[i]:
                        client.publish(self.topics.telemetry(trace.code),
                                       telemetry_payload(Reading(now_ms, float(trace.current[i]))), qos=self.qos)
                        self.published += 1
        log.info("simulator: played %.0f s of traces", (self.traces[0].ts[-1] / 1000.0) - start)

    def close(self, announce_offline: bool = True) -> None:
        for gateway, group, client in zip(self.gateway_ids, self.groups, self.clients):
            if announce_offline:
                # a clean disconnect sends no Will: say it ourselves
                client.publish(self.topics.gateway_status(gateway), gateway_payload(False, [t.code for t in group]),
                               qos=1, retain=True).wait_for_publish(2)
            client.disconnect()
            client.loop_stop()
