"""The demo's sensor history (`flask data backfill-demo`): current readings made from each instrument's
simulated schedule (core/services/data/demo_history.py), read through the ingestion's own tracker on a
simulated clock, and the state changes stored as the ingestion stores them (record_state_changes).

A year at the live rhythm (a reading every 20 s) would be 1.6 M readings per instrument; the history is
read at one reading every READING_S instead, with tracker rules whose reporting interval is that
spacing, so the tracker takes the rhythm as normal and only real silences become offline. Runs last 30
minutes and more, so the tracker's three-reading median still sees each of them. The sensors start a
week before the first month (WARM_UP_DAYS), so the hours a new sensor reads with default levels fall
before the reports' months. Instruments are independent: with many of them the reading is spread over
the cores.
"""
from __future__ import annotations

import math
import multiprocessing
import os
import random
import re
import zlib
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, replace
from typing import Iterator, Sequence

import numpy as np
from sqlalchemy.orm import Session

from core.services.data.demo_history import Profile, ProgressFactory, Window
from core.services.usage.states import StateChange, record_state_changes
from iot.classifier import OFF, ON, STANDBY
from iot.evaluation import amend
from iot.payloads import Reading
from iot.rules import ms_to_datetime
from iot.simulator import TYPES, InstrumentType
from iot.tracker import Tracker, TrackerRules

READING_S = 600  # one reading every 10 simulated minutes: a year of 230 instruments in about a minute
ARRIVAL_DELAY_MS = 500  # a reading reaches the ingestion this long after its stamp
LOST_READINGS = 0.004  # share of readings the network loses
GLITCHES = 0.001  # one-reading spikes on a powered instrument
PARALLEL_FROM = 24  # instruments: below this, starting worker processes costs more than it saves
WRITE_BATCH = 20  # instruments per record_state_changes call (and per step of the progress bar)

# current levels by what the instrument is: the simulator's types, matched on the words of its English
# name (whole words: "IC" is ion chromatography, not the end of "MICROSCOPE") or of its Chinese one
_TYPE_WORDS: tuple[tuple[str, frozenset[str], tuple[str, ...]], ...] = (
    ("ICP-MS", frozenset({"ICP"}), ("等离子体",)),
    ("LC-MS", frozenset({"MS", "ORBITRAP", "TOF", "SPECTROMETER"}), ("质谱",)),
    ("SEM", frozenset({"SEM", "TEM", "FIB", "XPS"}), ("电子显微镜", "电镜", "光电子能谱")),
    ("XRD", frozenset({"XRD", "PXRD"}), ("衍射",)),
    ("GC", frozenset({"GC"}), ("气相",)),
    ("HPLC", frozenset({"HPLC", "UPLC", "IC", "CHROMATOGRAPH"}), ("液相", "色谱")),
    ("UTM", frozenset({"TESTING", "TESTER", "FATIGUE", "DYNAMOMETER", "SHAKER", "SIMULATOR"}), ("试验机",)),
)
_TYPES = {t.name: t for t in TYPES}


def instrument_type(code: str, name: str, name_en: str) -> InstrumentType:
    """The simulator's type an instrument draws the current of; anything else gets one fixed by its code."""
    words = set(re.split(r"[^A-Z0-9]+", name_en.upper()))
    for type_name, english, chinese in _TYPE_WORDS:
        if words & english or any(word in name for word in chinese):
            return _TYPES[type_name]
    return TYPES[zlib.crc32(code.encode()) % len(TYPES)]


def replay_rules(base: TrackerRules | None = None) -> TrackerRules:
    """The platform's tracker rules, with the reading spacing as the sensors' reporting interval."""
    return replace(base or TrackerRules(), default_interval_ms=READING_S * 1000)


@dataclass(frozen=True)
class _Task:
    instrument_id: int
    code: str
    type_name: str
    paintings: list[tuple[float, float, str]]  # epoch s: sessions (standby), then runs (on)
    silent: tuple[float, float] | None
    start_ms: int
    end_ms: int
    seed: int
    rules: TrackerRules


def readings(task: _Task) -> tuple[np.ndarray, np.ndarray]:
    """(stamps ms, amperes) the sensor sends: its type's levels for this unit, noise, glitches, lost
    readings, and nothing while it is silent."""
    kind = _TYPES[task.type_name]
    rng = random.Random(f"{task.seed}:{task.code}:sensor")
    noise = np.random.default_rng(rng.getrandbits(63))
    step = READING_S * 1000
    first = task.start_ms + rng.randrange(step)  # each gateway reports on its own phase
    ts = np.arange(first, task.end_ms, step, dtype=np.int64)
    secs = ts / 1000.0
    truth = np.full(len(ts), STANDBY if kind.never_off else OFF, dtype=np.int8)
    load = np.ones(len(ts))
    for start, end, state in task.paintings:
        lo, hi = np.searchsorted(secs, [start, end])
        truth[lo:hi] = ON if state == "on" else STANDBY
        if state == "on":
            load[lo:hi] = 1 + rng.uniform(-kind.wobble, kind.wobble)  # each run its own load
    unit = rng.uniform(0.8, 1.25)
    levels = np.array([kind.off_a, kind.standby_a * unit, kind.on_a * unit])  # indexed by OFF, STANDBY, ON
    current = levels[truth] * load * np.exp(noise.normal(0, kind.noise, len(ts)))
    off = truth == OFF
    current[off] = kind.off_a + np.abs(noise.normal(0, 0.008, int(off.sum())))
    glitch = ~off & (noise.random(len(ts)) < GLITCHES)
    current[glitch] *= noise.uniform(2.0, 3.0, int(glitch.sum()))
    sent = noise.random(len(ts)) >= LOST_READINGS
    if task.silent is not None:
        lo, hi = np.searchsorted(secs, list(task.silent))
        sent[lo:hi] = False
    return ts[sent], current[sent]


def track(task: _Task) -> tuple[int, list[tuple[str, int, str]]]:
    """Feed the readings to a tracker of its own at their arrival, sweeping for silence when the next
    reading is late enough to be missed (as the ingestion's once-a-second sweep would), and return the
    state history with the tracker's own amendments applied, as the database would hold it."""
    stamps, amps = readings(task)
    tracker = Tracker(task.rules)
    code, factor = task.code, task.rules.offline_after
    previous = -1
    for stamp, current in zip(stamps.tolist(), amps.tolist()):
        arrival = stamp + ARRIVAL_DELAY_MS
        if previous >= 0:
            due = previous + math.ceil(factor * tracker.tracks[code].interval)
            if arrival > due:
                tracker.sweep(due)
        tracker.feed(code, [Reading(stamp, current)], arrival)
        previous = arrival
    history, _ = tracker.drain()
    for amendment in tracker.drain_amendments():
        history = amend(history, amendment)
    return task.instrument_id, [(c.state, c.at_ms, c.reason) for c in history]


def _tasks(profiles: Sequence[Profile], window: Window, seed: int, rules: TrackerRules) -> list[_Task]:
    start_ms, end_ms = int(window.sensors_from_s * 1000), int(window.end_s * 1000)
    return [_Task(p.instrument_id, p.code, instrument_type(p.code, p.name, p.name_en).name, p.paintings(),
                  p.silent, start_ms, end_ms, seed, rules) for p in profiles if p.sensor != "none"]


def _results(tasks: list[_Task], workers: int) -> Iterator[tuple[int, list[tuple[str, int, str]]]]:
    if workers <= 1 or len(tasks) < PARALLEL_FROM:
        yield from map(track, tasks)
        return
    # spawned, not forked: the parent holds a database connection and perhaps threads
    pool = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"))
    try:
        yield from pool.map(track, tasks, chunksize=2)
    finally:  # a failure while writing must not wait for the rest of the readings to be read
        pool.shutdown(wait=True, cancel_futures=True)


def replay_history(session: Session, profiles: Sequence[Profile], window: Window, seed: int,
                   progress: ProgressFactory, *, rules: TrackerRules | None = None,
                   workers: int | None = None) -> int:
    """Read every working sensor's simulated readings through the tracker and store the state changes.
    The instruments must have no stored intervals (a first history). Returns the intervals written.
    Learned levels are not stored: the live demo simulator that follows draws other currents for the
    same codes, and learning them afresh is what its ingestion does on a fresh demo anyway."""
    tasks = _tasks(profiles, window, seed, replay_rules(rules))
    results = _results(tasks, workers or min(2, os.cpu_count() or 1))
    written, pending = 0, []
    with progress("传感器读数（状态判读）", len(tasks)) as bar:
        for done, (instrument_id, history) in enumerate(results, 1):
            pending += [StateChange(instrument_id, state, ms_to_datetime(at), reason or None)
                        for state, at, reason in history]
            if done % WRITE_BATCH == 0 or done == len(tasks):
                written += record_state_changes(session, pending)
                bar.update(WRITE_BATCH if done % WRITE_BATCH == 0 else done % WRITE_BATCH)
                pending = []
    return written
