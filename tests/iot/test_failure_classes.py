"""Each class of failure the field traces showed, on a small trace of its own: the first method
(baseline) fails it, the adaptive method gets it right. Levels, periods and durations are drawn at
random within each class, so the tests hold for the class, not for one instrument."""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from iot.classifier import OFF, OFFLINE, ON, STANDBY
from iot.evaluation import Score, plain_deliveries, replay, score
from iot.simulator import Trace
from iot.tracker import TrackerRules

START = 1_735_660_800_000  # a Wednesday, 00:00 in Asia/Shanghai
STEP = 20_000
RULES = TrackerRules(min_dwell_ms=40_000, offline_after=2.5, default_interval_ms=STEP)
HOUR = 3_600_000 // STEP  # samples per hour


def build(kind: str, truth: np.ndarray, current: np.ndarray, **extra: np.ndarray) -> Trace:
    ts = START + np.arange(len(truth), dtype=np.int64) * STEP
    published = extra.pop("published", np.ones(len(truth), dtype=bool))
    return Trace(f"{kind}-1", kind, ts, current.astype(np.float32), truth.astype(np.int8), published, **extra)


def working_days(rng: np.random.Generator, days: int, run_min: tuple[int, int], gap_min: tuple[int, int]) -> np.ndarray:
    """Standby from 8:00 to 18:00 with runs of run_min minutes separated by gap_min, off at night."""
    truth = np.full(days * 24 * HOUR, OFF, dtype=np.int8)
    for day in range(days):
        t, end = (day * 24 + 8) * HOUR, (day * 24 + 18) * HOUR
        truth[t:end] = STANDBY
        t += int(rng.integers(10, 40)) * 3
        while t < end:
            run = int(rng.integers(*run_min)) * 3
            truth[t:min(t + run, end)] = ON
            t += run + int(rng.integers(*gap_min)) * 3
    return truth


def levels(rng: np.random.Generator, truth: np.ndarray, off: float, standby: float, on: np.ndarray | float,
           noise: float) -> np.ndarray:
    current = np.where(truth == ON, on, np.where(truth == STANDBY, standby, off)).astype(float)
    return current * np.exp(rng.normal(0, noise, len(truth)))


def run(trace: Trace, method: str, **kwargs: object) -> Score:
    changes, detections = replay([trace], dataclasses.replace(RULES, method=method), **kwargs)  # type: ignore[arg-type]
    return score([trace], changes, detections)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_close_levels_are_two_levels(seed: int) -> None:
    """A mass spectrometer idling at ~2 A and running ~25-35 % higher, never off."""
    rng = np.random.default_rng(seed)
    truth = working_days(rng, 3, (20, 90), (15, 60))
    truth[truth == OFF] = STANDBY
    idle = rng.uniform(1.5, 3.0)
    trace = build("MS", truth, levels(rng, truth, 0.02, idle, idle * rng.uniform(1.25, 1.35), 0.025))
    assert run(trace, "baseline").on_hours_error > 0.5  # one level learned: almost no on-hours
    adaptive = run(trace, "adaptive")
    assert adaptive.accuracy >= 0.95 and adaptive.on_hours_error <= 0.05


@pytest.mark.parametrize("seed", [4, 5, 6])
def test_a_narrow_standby_next_to_a_wide_on_does_not_trap_the_state_in_on(seed: int) -> None:
    """A centrifuge: standby within a few per cent, runs between 1.5x and 5x it, many short runs."""
    rng = np.random.default_rng(seed)
    truth = working_days(rng, 3, (5, 25), (5, 40))
    standby = rng.uniform(0.25, 0.35)
    run_level = np.repeat(rng.uniform(1.5, 5.0, len(truth) // 30 + 1), 30)[: len(truth)] * standby
    trace = build("centrifuge", truth, levels(rng, truth, 0.02, standby, run_level, 0.015))
    adaptive = run(trace, "adaptive")
    assert adaptive.on_hours_error <= 0.05 and adaptive.spurious_per_day <= 1.0


@pytest.mark.parametrize("seed", [7, 8, 9])
def test_a_thermostat_duty_cycle_is_one_run(seed: int) -> None:
    """A furnace: a ramp with the heater on, then a hold of hours with the heater cycling every
    few minutes; the controller draws a small standby current while powered."""
    rng = np.random.default_rng(seed)
    days = 3
    truth = np.full(days * 24 * HOUR, OFF, dtype=np.int8)
    heater = np.zeros(len(truth), dtype=bool)
    for day in range(days):
        t0 = (day * 24 + 8) * HOUR
        truth[t0:(day * 24 + 19) * HOUR] = STANDBY
        t = t0 + HOUR
        for _ in range(2):  # two programmes a day
            ramp, hold = int(rng.integers(20, 60)) * 3, int(rng.uniform(1.5, 3.5) * HOUR)
            truth[t:t + ramp + hold] = ON
            heater[t:t + ramp] = True
            period = int(rng.integers(3, 10))  # readings: 1-3 minutes
            duty = rng.uniform(0.3, 0.7)
            phase = np.arange(hold) % period
            heater[t + ramp:t + ramp + hold] = phase < max(1, round(period * duty))
            t += ramp + hold + int(rng.integers(30, 90)) * 3
    controller = rng.uniform(0.2, 0.5)
    current = np.where(truth == OFF, 0.02, controller) + np.where(heater & (truth == ON), rng.uniform(8, 15), 0.0)
    current = current * np.exp(rng.normal(0, 0.03, len(truth)))
    trace = build("furnace", truth, current)
    baseline, adaptive = run(trace, "baseline"), run(trace, "adaptive")
    assert baseline.spurious_per_day > 10  # flips between on and standby with every heater cycle
    assert adaptive.spurious_per_day <= 1.0 and adaptive.on_hours_error <= 0.05 and adaptive.accuracy >= 0.95


@pytest.mark.parametrize("hours", [2.0, 20.0])
def test_a_dead_clamp_sending_zeros_is_a_sensor_fault_not_an_instrument_off(hours: float) -> None:
    rng = np.random.default_rng(int(hours))
    truth = working_days(rng, 3, (20, 90), (15, 60))
    current = levels(rng, truth, 0.02, 0.8, 2.5, 0.03)
    fault = np.zeros(len(truth), dtype=bool)
    dead = slice(30 * HOUR, 30 * HOUR + int(hours * HOUR))
    fault[dead], truth[dead], current[dead] = True, OFFLINE, 0.0
    trace = build("HPLC", truth, current, fault=fault)
    assert run(trace, "baseline").faults_missed == 1
    adaptive = run(trace, "adaptive")
    assert adaptive.faults_missed == 0 and max(adaptive.fault_delays_min) <= 10
    assert adaptive.accuracy >= 0.97


def test_a_backlog_that_arrives_after_live_data_amends_the_history() -> None:
    """A store-and-forward gateway: a 40-minute link loss in working hours, then live readings
    first and the buffer a minute later."""
    rng = np.random.default_rng(11)
    truth = working_days(rng, 2, (20, 90), (15, 60))
    trace = build("HPLC", truth, levels(rng, truth, 0.02, 0.8, 2.5, 0.03))
    arrival = trace.ts + 500
    lost = slice(10 * HOUR, 10 * HOUR + 40 * 3)
    arrival[lost] = trace.ts[lost.stop] + 60_000  # flushed a minute after the link came back
    trace.arrival = arrival
    baseline, adaptive = run(trace, "baseline"), run(trace, "adaptive")
    assert baseline.backlog_share is not None and baseline.backlog_share < 0.1  # stored as offline
    assert adaptive.backlog_share == 1.0 and adaptive.accuracy >= 0.995


@pytest.mark.parametrize("skew_s", [-90, 90, 45])
def test_a_skewed_gateway_clock_is_corrected(skew_s: int) -> None:
    rng = np.random.default_rng(skew_s + 200)
    truth = working_days(rng, 2, (20, 90), (15, 60))
    published = np.ones(len(truth), dtype=bool)
    published[20 * HOUR: 21 * HOUR] = False  # an outage: it must be dated from the true time
    truth[20 * HOUR + 1: 21 * HOUR] = OFFLINE
    trace = build("HPLC", truth, levels(rng, truth, 0.02, 0.8, 2.5, 0.03), published=published)
    trace.stamp = trace.ts + skew_s * 1000
    baseline, adaptive = run(trace, "baseline"), run(trace, "adaptive")
    assert adaptive.accuracy >= 0.998 > baseline.accuracy
    assert adaptive.spurious_per_day <= baseline.spurious_per_day


def test_deliveries_of_a_plain_trace_follow_its_clock_and_delay() -> None:
    truth = np.full(10, STANDBY, dtype=np.int8)
    trace = build("HPLC", truth, np.full(10, 0.8))
    trace.stamp = trace.ts + 90_000
    plan = plain_deliveries(trace, 700)
    assert [a for a, _, _ in plan] == (trace.ts + 700).tolist()
    assert [s for _, s, _ in plan] == (trace.ts + 90_000).tolist()


def test_on_the_field_traces_the_adaptive_method_meets_what_the_baseline_misses() -> None:
    """A small development set of field traces (every kind and behaviour), both methods. Three days
    weigh the first hours, before any level is learned, more than a week does: the bounds allow for it."""
    from iot.evaluation_report import compare, meets_bar
    from iot.field_traces import deliveries, field_traces

    traces = field_traces(12, START - 8 * 3_600_000, 3, seed=21)
    result = compare(traces, RULES, deliveries)
    adaptive, baseline = result["adaptive"]["all"], result["baseline"]["all"]
    assert adaptive.accuracy >= 0.97 and adaptive.spurious_per_day <= 2.5
    assert adaptive.faults_missed == 0 and max(adaptive.fault_delays_min) <= 10
    assert adaptive.backlog_share == 1.0
    assert baseline.accuracy < adaptive.accuracy and baseline.spurious_per_day > 4 * adaptive.spurious_per_day
    assert meets_bar(result["baseline"])  # the baseline misses the bar on these traces


def test_flask_iot_evaluate_prints_both_methods_per_kind(app_factory, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from tests.conftest import cli

    app = app_factory(tmp_path)
    result = cli(app, "iot", "evaluate", "--set", "heldout", "--instruments", "6", "--days", "1")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    for kind in ("HPLC", "MS", "furnace", "all"):
        assert any(line.startswith(kind) and "adaptive" in line for line in lines)
        assert any(line.startswith(kind) and "baseline" in line for line in lines)
    assert any(line.startswith("adaptive: ") for line in lines) and any(line.startswith("baseline: ") for line in lines)


def test_the_hmm_reference_reads_a_steady_load() -> None:
    """The offline HMM the method was measured against (flask iot evaluate --with-hmm) on a steady HPLC."""
    from iot.evaluation import score
    from iot.hmm_reference import hmm_replay

    rng = np.random.default_rng(3)
    truth = working_days(rng, 2, (20, 90), (15, 60))
    steady = build("HPLC", truth, levels(rng, truth, 0.02, 0.8, 2.5, 0.03))
    changes, detections = hmm_replay([steady])
    assert score([steady], changes, detections).accuracy >= 0.97
