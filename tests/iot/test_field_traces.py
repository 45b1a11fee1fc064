"""The field-trace generator has the behaviours it promises, read off the traces as a reviewer would."""
from __future__ import annotations

from functools import lru_cache

import numpy as np
import pytest

from iot.classifier import OFF, OFFLINE, ON, STANDBY
from iot.field_traces import BOOT_EPOCH_MS, FIELD_KINDS, deliveries, field_traces
from iot.simulator import Trace

MONDAY = 1_736_092_800_000  # 2025-01-06 00:00 in Shanghai
SATURDAY = MONDAY + 5 * 86_400_000
HOUR_MS = 3_600_000


@lru_cache(maxsize=None)
def traces(seed: int = 11, start: int = MONDAY, heldout: bool = False, count: int = 20) -> tuple[Trace, ...]:
    return tuple(field_traces(count, start, 3, seed, heldout=heldout))


def usable(t: Trace, state: int) -> np.ndarray:
    return t.current[(t.truth == state) & t.published & ~t.fault]


def runs_of(mask: np.ndarray) -> list[tuple[int, int]]:
    edges = np.diff(np.concatenate(([0], mask.astype(np.int8), [0])))
    return list(zip(np.nonzero(edges == 1)[0].tolist(), np.nonzero(edges == -1)[0].tolist()))


def flushed(t: Trace) -> bool:
    """A backlog that arrived after later live readings."""
    arrival = t.arrival[t.published & (t.truth != OFFLINE)]  # in ts order
    later_arrives_first = arrival[:-1] > np.minimum.accumulate(arrival[::-1])[::-1][1:]
    return bool(later_arrives_first.any())


def skew_s(t: Trace) -> float:
    return float(np.median(t.stamp - t.ts)) / 1000


def behaviours(ts: tuple[Trace, ...]) -> set[str]:
    found = {t.kind for t in ts if (t.truth == ON).any()}
    for t in ts:
        silent_offline = [(a, b) for a, b in runs_of(~t.published) if b - a >= 3]
        found |= {name for name, present in (
            ("dead clamp", t.fault.any()), ("flush", flushed(t)), ("skew", 30 <= abs(skew_s(t)) <= 120),
            ("outage", bool(silent_offline)), ("single loss", any(b - a == 1 for a, b in runs_of(~t.published))),
            ("duplicates", len(deliveries(t)) > int(t.published.sum()))) if present}
    return found


def test_arrays_are_aligned_regular_and_deliveries_sorted_with_duplicates() -> None:
    for t in traces():
        n = len(t.ts)
        assert n > 0 and all(len(a) == n for a in (t.current, t.truth, t.published, t.stamp, t.arrival, t.fault))
        assert t.ts.dtype == np.int64 and t.stamp.dtype == np.int64 and t.arrival.dtype == np.int64
        assert t.current.dtype == np.float32 and t.truth.dtype == np.int8 and t.fault.dtype == bool
        assert len(set(np.diff(t.ts).tolist())) == 1  # a regular grid
        out = deliveries(t)
        arrivals = [a for a, _, _ in out]
        assert arrivals == sorted(arrivals)
        assert out == deliveries(t)  # pure
        pairs = [(s, c) for _, s, c in out]
        assert len(set(pairs)) == int(t.published.sum())  # the extras are re-deliveries of published readings
        assert 0.002 < (len(pairs) - len(set(pairs))) / len(pairs) < 0.03
    assert {(t.ts[1] - t.ts[0]) // 1000 for t in traces()} == {5, 20, 60}
    assert {t.kind for t in traces()} == set(FIELD_KINDS)


@pytest.mark.parametrize("seed,start", [(0, MONDAY), (1, SATURDAY), (2, MONDAY + 3 * 86_400_000), (3, MONDAY)])
def test_every_behaviour_appears_in_15_instruments_over_3_days(seed: int, start: int) -> None:
    found = behaviours(traces(seed, start, count=15))
    assert found >= set(FIELD_KINDS) | {"dead clamp", "flush", "skew", "outage", "single loss", "duplicates"}


def test_mass_spectrometer_levels_are_close_and_never_off() -> None:
    gaps = []
    for t in traces():
        if t.kind == "MS":
            assert not (t.truth == OFF).any()
            if len(usable(t, ON)) and len(usable(t, STANDBY)):
                gaps.append(np.log10(np.median(usable(t, ON)) / np.median(usable(t, STANDBY))))
    assert gaps and all(0.03 < g < 0.15 for g in gaps)


def test_centrifuge_standby_is_narrow_and_its_many_runs_are_wide() -> None:
    spins = [t for t in traces() if t.kind == "centrifuge"]
    for t in spins:
        standby = usable(t, STANDBY)
        if len(standby) > 100:
            assert 0.24 < np.median(standby) < 0.32
            assert np.percentile(standby, 90) / np.percentile(standby, 10) < 1.3
    busiest = max(spins, key=lambda t: len(runs_of(t.truth == ON)))
    on = usable(busiest, ON)
    assert np.percentile(on, 98) / np.percentile(on, 5) > 2.5  # acceleration pulses over low plateaus
    runs = [b - a for a, b in runs_of(busiest.truth == ON)]
    step_min = (busiest.ts[1] - busiest.ts[0]) / 60_000
    assert len(runs) >= 20 and max(runs) * step_min <= 31  # 10-20 short runs a working day


def test_furnace_hold_alternates_with_a_minute_scale_period() -> None:
    furnace = next(t for t in traces() if t.kind == "furnace" and t.ts[1] - t.ts[0] <= 20_000)
    ok = (furnace.truth == ON) & furnace.published & ~furnace.fault
    low, high = np.percentile(furnace.current[ok], [5, 95])
    assert high / low > 5
    hot = furnace.current > np.sqrt(low * high)
    rising = np.nonzero(ok[1:] & ok[:-1] & hot[1:] & ~hot[:-1])[0]
    assert len(rising) >= 15  # the thermostat switches many times within the programme
    spacing_min = np.diff(furnace.ts[rising]) / 60_000
    assert 1 <= np.median(spacing_min[spacing_min < 60]) <= 12
    assert np.median(usable(furnace, STANDBY)) < 0.8  # controller and fan only between programmes


def test_dead_clamps_send_exact_zeros_for_hours_and_are_offline() -> None:
    dead = [t for t in traces() if t.fault.any()]
    assert dead
    for t in traces():
        assert (t.current[t.fault] == 0).all() and (t.truth[t.fault] == OFFLINE).all()
        assert (t.fault[t.published & (t.current == 0)]).all()  # zeros come from dead clamps only
        assert (t.current[~t.fault & (t.truth != OFFLINE)] > 0).all()
    for t in dead:
        stretch = t.ts[t.fault]
        assert stretch[-1] - stretch[0] >= 1.5 * HOUR_MS


def test_truth_is_offline_only_for_long_silences_and_dead_clamps() -> None:
    singles = 0
    for t in traces():
        assert (t.fault[(t.truth == OFFLINE) & t.published]).all()  # delivered yet offline: a dead clamp
        for a, b in runs_of(~t.published):
            if b - a >= 3:
                assert (t.truth[a:b] == OFFLINE).all()
            else:
                singles += 1
                assert ((t.truth[a:b] != OFFLINE) | t.fault[a:b]).all()
    assert singles > 100


def test_store_and_forward_backlog_arrives_after_later_live_readings() -> None:
    with_backlog = [t for t in traces() if flushed(t)]
    assert with_backlog
    for t in with_backlog:
        live = t.published & (t.arrival - t.ts < 5_000)
        late = t.published & ~live
        assert ((t.truth[late] != OFFLINE) | t.fault[late]).all()  # delivered in the end: not offline
        _, counts = np.unique(t.arrival[late], return_counts=True)
        assert counts.max() >= 3  # a whole buffer flushed at once
        assert (t.arrival[late] - t.ts[late] >= 30_000).all()


def test_network_delay_and_skewed_clocks() -> None:
    skews = [skew_s(t) for t in traces()]
    assert sum(30 <= abs(s) <= 120 for s in skews) >= 2
    assert all(30 <= abs(s) <= 120 or abs(s) < 1 for s in skews)
    for t in traces():
        d = t.stamp - t.ts
        rebooted = t.stamp < BOOT_EPOCH_MS + 366 * 86_400_000  # a gateway's clock before NTP syncs
        assert (d[~rebooted] == d[~rebooted][0]).all()  # one offset per gateway
        delay = (t.arrival - t.ts)[t.published]
        live = delay[delay < 5_000]
        assert len(live) > 0.8 * len(delay) and live.min() >= 100 and live.max() <= 2_000


def test_working_week_and_never_off_types() -> None:
    for t in traces():
        if t.kind in ("SEM", "MS"):
            assert not (t.truth == OFF).any()
    hplc = [t for t in traces() if t.kind == "HPLC" and (t.truth == ON).any()]
    assert hplc
    for t in hplc:
        at_3am = ((t.ts - MONDAY) % 86_400_000) // HOUR_MS == 3
        assert np.mean(t.truth[at_3am] == OFF) > 0.5 or np.mean(t.truth[at_3am] == OFFLINE) > 0.3


def standby_medians(ts: tuple[Trace, ...], kind: str) -> list[float]:
    return [float(np.median(usable(t, STANDBY))) for t in ts if t.kind == kind and len(usable(t, STANDBY))]


def test_heldout_set_differs_from_the_development_set() -> None:
    dev, held = traces(), traces(heldout=True)
    assert [t.kind for t in dev] == [t.kind for t in held]
    assert {t.code[0] for t in held} == {"H"} and {t.code[0] for t in dev} == {"F"}
    assert {(t.ts[1] - t.ts[0]) // 1000 for t in held} == {10, 30, 60}
    assert max(standby_medians(dev, "MS")) < 2.5 < 2.8 < min(standby_medians(held, "MS"))
    assert max(standby_medians(dev, "centrifuge")) < 0.33 < 0.36 < min(standby_medians(held, "centrifuge"))
    # same seed, same traces; another seed, other traces
    again = field_traces(20, MONDAY, 3, 11)
    assert all(np.array_equal(a.current, b.current) and np.array_equal(a.arrival, b.arrival) for a, b in zip(dev, again))
    assert not np.array_equal(dev[0].truth, traces(12)[0].truth)
