"""Offline detection (silence and gateway Last Will) and readings that arrive late or out of order."""
import random

from iot.levels import Thresholds
from iot.payloads import GatewayStatus, Reading
from iot.tracker import Tracker, TrackerRules

S = 20_000
TH = Thresholds(0.2, 2.0, 1.25, "learned")


def tracker() -> Tracker:
    t = Tracker(TrackerRules(min_dwell_ms=40_000, offline_after=2.5, default_interval_ms=S))
    t.seed_levels("A", 0, TH, None, None)
    t.seed_levels("B", 0, TH, None, None)
    return t


def run(t: Tracker, code: str, values: list[float], start: int = 0) -> int:
    for i, amps in enumerate(values):
        ts = start + i * S
        t.feed(code, [Reading(ts, amps)], ts + 300)
        t.sweep(ts + 300)
    return start + len(values) * S


def test_silence_makes_an_instrument_offline_from_when_its_next_reading_was_due() -> None:
    t = tracker()
    end = run(t, "A", [3.0] * 10)
    last = end - S
    t.drain()
    t.sweep(last + 300 + 2 * S)  # two intervals of silence: still on
    assert t.state_of("A") == "on" and t.drain()[0] == []
    t.sweep(last + 300 + 3 * S)
    changes, _ = t.drain()
    assert t.state_of("A") == "offline" and [(c.state, c.at_ms) for c in changes] == [("offline", last + S)]
    # the sensor is back: its first reading ends the outage at once
    t.feed("A", [Reading(last + 10 * S, 0.8)], last + 10 * S + 300)
    assert t.state_of("A") == "standby" and t.drain()[0][0].at_ms == last + 10 * S


def test_a_gateways_last_will_takes_its_instruments_offline() -> None:
    t = tracker()
    run(t, "A", [3.0] * 5)
    run(t, "B", [0.8] * 5)
    t.gateway_status(GatewayStatus("gw-1", True, ("A", "B")), 5 * S)
    t.drain()
    t.gateway_status(GatewayStatus("gw-1", False, None), 5 * S + 1000)  # the Will lists nothing: remembered list
    assert t.state_of("A") == t.state_of("B") == "offline"
    assert sorted(c.code for c in t.drain()[0]) == ["A", "B"]


def test_readings_are_applied_by_timestamp_not_arrival() -> None:
    values = [0.02] * 5 + [0.8] * 6 + [3.0] * 8 + [0.8] * 6
    readings = [Reading(i * S, v) for i, v in enumerate(values)]
    ordered = tracker()
    ordered.feed("A", readings, len(values) * S)
    shuffled = tracker()
    mixed = readings[:]
    random.Random(3).shuffle(mixed)
    shuffled.feed("A", mixed, len(values) * S)  # one batch, any order
    assert ordered.drain()[0] == shuffled.drain()[0]
    assert [c.state for c in tracker_changes(ordered, readings)] == ["off", "standby", "on", "standby"]


def tracker_changes(_t: Tracker, readings: list[Reading]):  # type: ignore[no-untyped-def]
    t = tracker()
    t.feed("A", readings, readings[-1].ts)
    return t.drain()[0]


def test_a_late_reading_does_not_move_the_live_state_back() -> None:
    t = tracker()
    run(t, "A", [3.0] * 6)
    t.drain()
    t.feed("A", [Reading(2 * S, 0.02), Reading(3 * S, 0.02), Reading(4 * S, 0.02)], 7 * S)  # old news
    assert t.state_of("A") == "on" and t.drain()[0] == [] and t.counts["late"] == 3


def test_the_reporting_interval_is_learned_per_instrument() -> None:
    t = tracker()
    for i in range(30):  # this sensor reports once a minute
        t.feed("A", [Reading(i * 60_000, 0.8)], i * 60_000 + 200)
        t.sweep(i * 60_000 + 200)
    assert t.state_of("A") == "standby" and 55_000 < t.tracks["A"].interval < 65_000
