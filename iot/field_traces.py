"""Field traces: test data that behaves like real instruments, sensors and gateways.

Written independently of the classifier (nothing here looks at how states are
detected), to replay behaviour that the kind simulator in iot.simulator lacks:
levels only ~0.1 decade apart (MS), a narrow standby beside a wide, pulsed run
level (centrifuge), thermostat duty cycling that is ON throughout (furnace,
oven), sensors at 5/20/60 s with noise, gain drift, spikes and losses, clamps
that die and send zeros, store-and-forward gateways that deliver a backlog
late, outages, crashes, skewed clocks and duplicate deliveries.

Each instrument is a unit of its kind with its own levels; two consecutive
instruments share a gateway (link drops, outages, crashes and clock skew hit
both). The working day is Asia/Shanghai local time (UTC+8, no DST).
"""
from __future__ import annotations

import zlib
from dataclasses import dataclass

import numpy as np

from iot.classifier import OFF, OFFLINE, ON, STANDBY
from iot.simulator import Trace

DAY, HOUR, MINUTE, WEEK = 86400.0, 3600.0, 60.0, 7 * 86400.0
TZ_OFFSET_S = 8 * 3600
BOOT_EPOCH_MS = 946_684_800_000  # 2000-01-01: an RTC-less gateway's clock after a reboot, until NTP syncs
DUPLICATE_RATE = 0.01
OFFLINE_AFTER = 3  # missed readings in a row that make the truth offline

Rng = tuple[float, float]


@dataclass(frozen=True)
class Kind:
    name: str
    style: str  # "level": runs at a plateau; "pulse": centrifuge; "cycle": thermostat programme
    never_off: bool  # vacuum pumps: standby rather than off
    standby: Rng  # A; a unit's standby is drawn from this (cycle: controller and fan)
    on: Rng  # A; level: run level; pulse: plateau (by rotor/speed, per run); cycle: heater current
    run_min: Rng  # level/pulse: run length; cycle: ramp with the heater fully on
    gap_min: Rng  # pause between runs (cycle: cool-down before the next programme)
    overnight: float  # chance a session ends with a run through the night
    wobble: float = 0.0  # level: run-to-run spread of the on level (gradients, stage, load)
    ratio: Rng | None = None  # level: on = standby * ratio instead of `on`
    hold_h: Rng = (0.0, 0.0)  # cycle: thermostat hold after the ramp
    period_min: Rng = (0.0, 0.0)  # cycle: heater on/off period
    duty: Rng = (0.0, 0.0)  # cycle: heater on fraction
    pulse: Rng = (0.0, 0.0)  # pulse: acceleration current (braking draws 35-60 % of it)
    pulse_s: Rng = (0.0, 0.0)  # pulse: acceleration and braking lengths


@dataclass(frozen=True)
class Profile:
    kinds: dict[str, Kind]
    intervals: tuple[int, ...]  # s between readings
    noise: Rng  # sigma of the multiplicative noise
    drift: Rng  # sensor gain drift per week (either sign)
    spikes: float  # one-reading glitches per powered reading
    loss: Rng  # single lost readings
    delay_s: Rng  # network delay of live readings
    skew_s: tuple[Rng, ...]  # clock offsets of skewed gateways (either sign)
    drop_min: Rng  # store-and-forward link drops
    flush_s: Rng  # link back -> backlog flushed
    outage_min: Rng  # nothing delivered
    crash_min: Rng
    dead_h: Rng  # a dead clamp sending zeros


def _kinds(*kinds: Kind) -> dict[str, Kind]:
    return {k.name: k for k in kinds}


DEV = Profile(
    _kinds(Kind("HPLC", "level", False, (0.6, 0.9), (2.0, 3.0), (20, 120), (5, 90), 0.10, wobble=0.06),
           Kind("SEM", "level", True, (1.5, 2.0), (4.0, 5.0), (30, 180), (10, 90), 0.03, wobble=0.05),
           Kind("MS", "level", True, (1.9, 2.2), (0, 0), (30, 240), (10, 120), 0.15, wobble=0.015,
                ratio=(1.22, 1.33)),  # 0.086-0.124 decades
           Kind("centrifuge", "pulse", False, (0.27, 0.29), (0.6, 2.5), (5, 30), (5, 60), 0.0,
                pulse=(3.0, 6.0), pulse_s=(30, 90)),
           Kind("furnace", "cycle", False, (0.2, 0.5), (6.0, 12.0), (20, 90), (60, 180), 0.3,
                hold_h=(1, 6), period_min=(1, 8), duty=(0.2, 0.7)),
           Kind("oven", "cycle", False, (0.1, 0.25), (3.0, 6.0), (10, 30), (30, 120), 0.5,
                hold_h=(1, 10), period_min=(0.5, 3), duty=(0.1, 0.45))),
    intervals=(5, 20, 60), noise=(0.015, 0.05), drift=(0.05, 0.10), spikes=0.002, loss=(0.002, 0.02),
    delay_s=(0.1, 2.0), skew_s=((30, 120),), drop_min=(5, 60), flush_s=(40, 120), outage_min=(8, 240),
    crash_min=(10, 180), dead_h=(2, 20))

HELDOUT = Profile(
    _kinds(Kind("HPLC", "level", False, (0.45, 0.6), (3.0, 4.0), (10, 60), (3, 40), 0.20, wobble=0.08),
           Kind("SEM", "level", True, (2.2, 2.8), (5.5, 7.0), (15, 90), (5, 60), 0.05, wobble=0.05),
           Kind("MS", "level", True, (3.0, 3.6), (0, 0), (60, 360), (20, 180), 0.30, wobble=0.01,
                ratio=(1.14, 1.22)),  # 0.057-0.086 decades
           Kind("centrifuge", "pulse", False, (0.40, 0.43), (1.0, 4.0), (3, 20), (3, 40), 0.0,
                pulse=(5.0, 9.0), pulse_s=(20, 60)),
           Kind("furnace", "cycle", False, (0.12, 0.2), (4.0, 8.0), (40, 150), (30, 120), 0.4,
                hold_h=(0.5, 8), period_min=(4, 12), duty=(0.1, 0.85)),
           Kind("oven", "cycle", False, (0.25, 0.4), (1.5, 3.0), (5, 20), (60, 240), 0.6,
                hold_h=(2, 14), period_min=(1, 5), duty=(0.3, 0.6))),
    intervals=(10, 30, 60), noise=(0.03, 0.08), drift=(0.08, 0.15), spikes=0.004, loss=(0.005, 0.03),
    delay_s=(0.2, 4.0), skew_s=((10, 30), (120, 300)), drop_min=(20, 120), flush_s=(20, 300),
    outage_min=(3, 480), crash_min=(5, 360), dead_h=(1, 30))

FIELD_KINDS: tuple[str, ...] = tuple(DEV.kinds)


def _rng(salt: str, seed: int, *more: int) -> np.random.Generator:
    return np.random.default_rng([zlib.crc32(salt.encode()), seed % 2**32, *more])


def _loguniform(rng: np.random.Generator, lo: float, hi: float) -> float:
    # human pauses and outages: many short, a few long
    return float(np.exp(rng.uniform(np.log(lo), np.log(hi))))


@dataclass
class _Gateway:
    skew_ms: int
    drops: list[tuple[float, float, float]]  # (start s, end s, flush s) from start_ms
    outages: list[tuple[float, float]]
    crashes: list[tuple[float, float, float]]  # (start, end, clock synced again)


def _gateway(rng: np.random.Generator, g: int, span: float, p: Profile) -> _Gateway:
    def events(assigned: bool, per_day: float, minutes: Rng) -> list[tuple[float, float]]:
        if not assigned:
            return []
        out = []
        for _ in range(1 + rng.poisson(per_day * span / DAY)):
            length = min(_loguniform(rng, *minutes) * MINUTE, span / 2)
            t0 = rng.uniform(0, max(span - length, 0))
            out.append((t0, t0 + length))
        return out

    # by index so that any 15 instruments have every behaviour, plus chance
    if g % 3 == 1 or rng.random() < 0.15:
        lo, hi = p.skew_s[rng.integers(len(p.skew_s))]
        skew = rng.choice([-1, 1]) * rng.uniform(lo, hi)
    else:
        skew = rng.uniform(-0.5, 0.5)  # NTP-synced
    drops = [(a, b, b + rng.uniform(*p.flush_s)) for a, b in events(g % 2 == 0 or rng.random() < 0.15, 0.3,
                                                                       p.drop_min)]
    outages = events(g % 3 == 2 or rng.random() < 0.15, 0.1, p.outage_min)
    # half the reboots come up with an unsynced clock for a minute or three
    crashes = [(a, b, b + (rng.uniform(30, 180) if rng.random() < 0.5 else 0.0))
               for a, b in events(g % 4 == 3 or rng.random() < 0.1, 0.05, p.crash_min)]
    return _Gateway(int(skew * 1000), drops, outages, crashes)


Run = tuple[float, float, float, float, float, float]  # (start s, end s, level A, x, y, z) by kind style


def _run(rng: np.random.Generator, k: Kind, t: float, on_a: float, heater_a: float) -> Run:
    if k.style == "cycle":  # a programme: ramp at full heat, then the thermostat holds
        ramp = rng.uniform(*k.run_min) * MINUTE
        end = t + ramp + rng.uniform(*k.hold_h) * HOUR
        return (t, end, heater_a * rng.uniform(0.98, 1.02), rng.uniform(*k.period_min) * MINUTE,
                rng.uniform(*k.duty), ramp)
    end = t + rng.uniform(*k.run_min) * MINUTE
    if k.style == "pulse":  # plateau by rotor and speed; acceleration and braking pulses
        return (t, end, rng.uniform(*k.on), rng.uniform(*k.pulse), rng.uniform(*k.pulse_s), rng.uniform(*k.pulse_s))
    return (t, end, on_a * rng.uniform(1 - k.wobble, 1 + k.wobble), 0.0, 0.0, 0.0)


def _schedule(rng: np.random.Generator, k: Kind, start_ms: int, span: float, busy: float, on_a: float,
              heater_a: float) -> tuple[list[tuple[float, float]], list[Run]]:
    """Powered sessions and runs, in seconds from start_ms, over a working week."""
    local0 = start_ms / 1000 + TZ_OFFSET_S
    first_midnight, day0 = -(local0 % DAY), int(local0 // DAY)
    sessions: list[tuple[float, float]] = []
    runs: list[Run] = []
    free = -np.inf
    for d in range(int(span // DAY) + 2):
        midnight = first_midnight + d * DAY
        workday = (day0 + d + 3) % 7 < 5  # 1970-01-01 was a Thursday
        if rng.random() >= (busy if workday or busy >= 1 else busy * 0.1):
            if rng.random() < 0.08:  # switched on, never used
                p0 = max(midnight + rng.uniform(9, 14) * HOUR, free)
                sessions.append((p0, p0 + rng.uniform(1, 5) * HOUR))
                free = sessions[-1][1]
            continue
        p0 = max(midnight + rng.uniform(7.5, 10) * HOUR, free)
        p1 = close = midnight + rng.uniform(16.5, 20) * HOUR  # people go home at `close`
        if p0 > close - HOUR:
            continue
        t = p0 + rng.uniform(5, 30) * MINUTE  # warm-up in standby
        while t < close - HOUR:
            run = _run(rng, k, t, on_a, heater_a)
            if k.style == "cycle":  # a programme always runs to its end; the furnace stays powered
                runs.append(run)
                p1 = max(p1, run[1] + rng.uniform(0.5, 2) * HOUR)
            elif run[1] > close - 10 * MINUTE:
                if rng.random() < k.overnight:  # a queue or batch left running overnight
                    runs.append((run[0], midnight + DAY + rng.uniform(5, 9) * HOUR, *run[2:]))
                    p1 = runs[-1][1] + rng.uniform(5, 30) * MINUTE
                break
            else:
                runs.append(run)
            t = run[1] + _loguniform(rng, *k.gap_min) * MINUTE
        if k.style == "cycle" and rng.random() < k.overnight and t < close:  # an overnight programme
            run = _run(rng, k, max(t, close - rng.uniform(0.5, 2) * HOUR), on_a, heater_a)
            runs.append(run)
            p1 = max(p1, run[1] + rng.uniform(1, 4) * HOUR)
        elif not k.never_off and rng.random() < 0.1:  # left in standby overnight
            p1 += rng.uniform(6, 14) * HOUR
        sessions.append((p0, p1))
        free = p1
    return sessions, runs


def _physical(rng: np.random.Generator, k: Kind, secs: np.ndarray, step_s: float, sessions: list[tuple[float, float]],
              runs: list[Run], standby_a: float) -> tuple[np.ndarray, np.ndarray]:
    """Physical state and the true current at each reading instant."""
    n = len(secs)
    truth = np.full(n, STANDBY if k.never_off else OFF, dtype=np.int8)
    starts = []
    for p0, p1 in sessions:
        lo, hi = np.searchsorted(secs, [p0, p1])
        truth[lo:hi] = STANDBY
        starts.append(lo)
    run_of = np.full(n, -1)
    for j, run in enumerate(runs):
        lo, hi = np.searchsorted(secs, run[:2])
        truth[lo:hi], run_of[lo:hi] = ON, j
    current = np.full(n, standby_a)
    off = truth == OFF
    current[off] = rng.uniform(0.005, 0.03) + np.abs(rng.normal(0, 0.004, int(off.sum())))  # noise floor, never 0
    on = run_of >= 0
    if on.any():
        r = np.asarray(runs)[run_of[on]]
        t_in, t_left = secs[on] - r[:, 0], r[:, 1] - secs[on]
        if k.style == "level":  # gradients, stage moves: a slow swing within the run
            current[on] = r[:, 2] * (1 + 0.02 * np.sin(2 * np.pi * t_in / 1800 + run_of[on]))
        elif k.style == "pulse":
            c = r[:, 2].copy()
            c[t_in < r[:, 4]] = r[t_in < r[:, 4], 3]
            brake = (t_left <= r[:, 5]) & (t_in >= r[:, 4])
            c[brake] = r[brake, 3] * rng.uniform(0.35, 0.6)
            current[on] = c
        else:  # thermostat: period and duty drift slowly with load and room temperature
            t1, t2 = rng.uniform(1.5, 5, 2) * HOUR
            period = np.full(n, np.inf)
            period[on] = r[:, 3] * np.exp(0.25 * np.sin(2 * np.pi * secs[on] / t1 + rng.uniform(0, 6.3)))
            phase = (np.cumsum(step_s / period) + rng.random())[on] % 1.0
            duty = np.clip(r[:, 4] + 0.1 * np.sin(2 * np.pi * secs[on] / t2 + rng.uniform(0, 6.3)), 0.05, 0.95)
            current[on] = standby_a + r[:, 2] * ((t_in < r[:, 5]) | (phase < duty))
    if not k.never_off:  # inrush at power-up
        first = [s for s in starts if 0 < s < n and truth[s] != OFF]
        current[first] *= rng.uniform(1.5, 3.0, len(first))
    return truth, current


def _silent_runs(missing: np.ndarray, at_least: int) -> np.ndarray:
    """Readings inside runs of at least `at_least` consecutive missing readings."""
    edges = np.diff(np.concatenate(([0], missing.astype(np.int8), [0])))
    begin, end = np.nonzero(edges == 1)[0], np.nonzero(edges == -1)[0]
    long = end - begin >= at_least
    marks = np.zeros(len(missing) + 1, dtype=np.int64)
    np.add.at(marks, begin[long], 1)
    np.add.at(marks, end[long], -1)
    return np.cumsum(marks[:-1]) > 0


def _trace(i: int, code: str, start_ms: int, span: float, seed: int, salt: str, p: Profile, gw: _Gateway) -> Trace:
    rng = _rng(salt, seed, i)
    k = p.kinds[FIELD_KINDS[i % len(FIELD_KINDS)]]
    interval = p.intervals[(i // len(FIELD_KINDS) + i) % len(p.intervals)]  # each kind at every rate
    step_ms = interval * 1000
    n = max(1, int(span // interval))
    ts = start_ms + int(rng.integers(0, step_ms)) + np.arange(n, dtype=np.int64) * step_ms
    secs = (ts - start_ms) / 1000.0

    # the first unit of each kind is a core-facility instrument used every day, so every kind shows its runs
    if i < len(FIELD_KINDS):
        busy = 1.0
    else:
        busy = rng.uniform(0.03, 0.15) if rng.random() < 0.25 else rng.uniform(0.4, 0.95)
    standby_a = rng.uniform(*k.standby)
    on_a = standby_a * rng.uniform(*k.ratio) if k.ratio else rng.uniform(*k.on)
    sessions, runs = _schedule(rng, k, start_ms, span, busy, on_a, rng.uniform(*k.on))
    truth, current = _physical(rng, k, secs, interval, sessions, runs, standby_a)

    # the sensor: gain drift over the week, multiplicative noise, one-reading glitches
    slope = rng.choice([-1, 1]) * rng.uniform(*p.drift)
    current *= 1 + slope * secs / WEEK + 0.01 * np.sin(2 * np.pi * secs / DAY + rng.uniform(0, 6.3))
    current *= np.exp(rng.normal(0, rng.uniform(*p.noise), n))
    glitch = (truth != OFF) & (rng.random(n) < p.spikes)
    up = rng.random(n) < 0.75
    current[glitch] *= np.where(up, rng.uniform(2, 4, n), rng.uniform(0.1, 0.5, n))[glitch]
    dead = np.zeros(n, dtype=bool)
    if i % 5 == 3 or rng.random() < 0.05:  # the clamp falls off or its lead breaks: exact zeros
        length = min(_loguniform(rng, *p.dead_h) * HOUR, span)
        d0 = rng.uniform(0, span - length)
        dead[slice(*np.searchsorted(secs, [d0, d0 + length]))] = True
        current[dead] = 0.0

    # delivery: lost readings (now and then two in a row), network delay, the gateway's clock
    published = rng.random(n) >= rng.uniform(*p.loss)
    pairs = np.nonzero(rng.random(n - 1) < 0.001)[0]
    published[pairs], published[pairs + 1] = False, False
    lo_d, hi_d = p.delay_s
    arrival = ts + (1000 * np.clip(rng.gamma(2.0, (lo_d + hi_d) / 6, n), lo_d, hi_d)).astype(np.int64)
    stamp = ts + gw.skew_ms
    for d0, d1, flush in gw.drops:  # buffered, then flushed after the live readings resume
        arrival[slice(*np.searchsorted(secs, [d0, d1]))] = start_ms + int(flush * 1000)
    for o0, o1 in gw.outages:
        published[slice(*np.searchsorted(secs, [o0, o1]))] = False
    for c0, c1, synced in gw.crashes:
        published[slice(*np.searchsorted(secs, [c0, c1]))] = False
        published[(secs < c0) & (arrival >= start_ms + c0 * 1000)] = False  # the buffer was in RAM
        lo, hi = np.searchsorted(secs, [c1, synced])
        stamp[lo:hi] = BOOT_EPOCH_MS + (ts[lo:hi] - ts[lo]) + int(rng.uniform(15, 40) * 1000)

    # truth: offline where the clamp is dead, or where nothing arrived for OFFLINE_AFTER readings or more
    silent = _silent_runs(~published, OFFLINE_AFTER)
    truth[dead | silent] = OFFLINE
    return Trace(code, k.name, ts, current.astype(np.float32), truth, published, stamp=stamp, arrival=arrival,
                 fault=dead & ~silent)


def field_traces(count: int, start_ms: int, days: float, seed: int, heldout: bool = False) -> list[Trace]:
    """`count` field traces from start_ms over `days`, kinds FIELD_KINDS round-robin, codes F-000…

    Behaviours are assigned by index (so any 15 consecutive instruments over 3 days have each of them)
    plus chance: a dead clamp on instruments 3, 8, 13…; clock skew on gateways 1, 4, 7… (gateway =
    index // 2), store-and-forward link drops on even gateways, outages on gateways 2, 5, 8…, crashes on
    gateways 3, 7, 11…. The first instrument of each kind is used every day (weekends too).

    heldout=True (codes H-000…) draws from other seeds and other ranges, never seen in tuning:
    reporting every 10/30/60 s instead of 5/20/60 s; other levels for every kind (HPLC standby
    0.45-0.6 A, on 3-4 A; SEM 2.2-2.8 / 5.5-7 A; MS standby 3.0-3.6 A with on only 0.057-0.086 decades
    above it instead of 1.9-2.2 A and 0.086-0.124; centrifuge standby 0.40-0.43 A, plateaus 1-4 A, runs
    3-20 min, gaps 3-40 min; furnace controller 0.12-0.2 A, heater 4-8 A, ramp 40-150 min, hold 0.5-8 h,
    period 4-12 min, duty 10-85 %; oven period 1-5 min, duty 30-60 %); noisier (sigma 3-8 % vs 1.5-5 %),
    more gain drift (8-15 %/week vs 5-10 %), twice the glitches, more losses (0.5-3 % vs 0.2-2 %), longer
    network delays (0.2-4 s vs 0.1-2 s), clock skews of 10-30 s or 120-300 s (vs 30-120 s), link drops of
    20-120 min (vs 5-60), flushes 20-300 s after the link returns (vs 40-120), outages 3 min-8 h (vs
    8 min-4 h), crashes 5 min-6 h (vs 10 min-3 h), dead clamps for 1-30 h (vs 2-20 h).
    """
    p, salt, prefix = (HELDOUT, "field-heldout", "H") if heldout else (DEV, "field-dev", "F")
    span = days * DAY
    gateways: dict[int, _Gateway] = {}
    traces = []
    for i in range(count):
        g = i // 2
        if g not in gateways:
            gateways[g] = _gateway(_rng(salt + ":gateway", seed, g), g, span, p)
        traces.append(_trace(i, f"{prefix}-{i:03d}", start_ms, span, seed, salt, p, gateways[g]))
    return traces


def deliveries(trace: Trace) -> list[tuple[int, int, float]]:
    """Every delivery of the trace as (arrival ms, stamp ms, current A), sorted by arrival: the published
    readings (a flushed backlog all at its flush time) and ~1 % of them delivered again 1-8 s later (a QoS 1
    resend whose acknowledgement was lost). Duplicates are seeded by the trace code, so this is pure."""
    stamp = trace.ts if trace.stamp is None else trace.stamp
    arrival = trace.ts + 500 if trace.arrival is None else trace.arrival
    idx = np.nonzero(trace.published)[0]
    rng = np.random.default_rng(zlib.crc32(trace.code.encode()))
    dup = idx[rng.random(len(idx)) < DUPLICATE_RATE]
    arr = np.concatenate((arrival[idx], arrival[dup] + rng.integers(1000, 8000, len(dup))))
    st = np.concatenate((stamp[idx], stamp[dup]))
    cur = np.concatenate((trace.current[idx], trace.current[dup])).astype(float)
    order = np.lexsort((st, arr))
    return list(zip(arr[order].tolist(), st[order].tolist(), cur[order].tolist()))
