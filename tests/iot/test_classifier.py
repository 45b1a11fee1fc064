"""Per-instrument levels, hysteresis and minimum dwell: what decides the state a user sees."""
import random

from iot.classifier import OFF, ON, STANDBY, Classifier, level_for
from iot.levels import Thresholds, add_sample, learn, log_current, new_histogram

S = 20_000  # ms between readings
DWELL = 40_000


def history(levels: dict[float, int], noise: float = 0.04, seed: int = 1):  # type: ignore[no-untyped-def]
    rng = random.Random(seed)
    hist = new_histogram()
    for amps, count in levels.items():
        for _ in range(count):
            add_sample(hist, log_current(amps * rng.lognormvariate(0, noise)))
    return hist


def test_three_levels_are_learned_from_the_instruments_own_history() -> None:
    th = learn(history({0.02: 2000, 0.8: 1500, 3.0: 600}))
    assert th.source == "learned"
    assert 0.03 < th.off_below_a < 0.8 < th.on_above_a < 3.0
    # another instrument type, another scale: a mass spectrometer whose standby is more than an HPLC's "on"
    ms = learn(history({0.03: 300, 4.2: 3000, 8.8: 900}))
    assert ms.source == "learned" and 4.2 < ms.on_above_a < 8.8 and 0.03 < ms.off_below_a < 4.2
    assert level_for(3.0, STANDBY, ms) == STANDBY and level_for(3.0, STANDBY, th) == ON


def test_an_instrument_never_switched_off_still_gets_standby_and_on() -> None:
    th = learn(history({1.8: 3000, 4.6: 700}))
    assert th.source == "learned" and "never seen off" in th.note
    assert 1.8 < th.on_above_a < 4.6 and th.off_below_a < 1.8


def test_without_enough_history_defaults_are_used_and_said() -> None:
    th = learn(history({0.8: 20}))
    assert th.source == "default" and "not enough history" in th.note
    assert "default" in th.describe()


def test_one_powered_level_is_provisional_standby() -> None:
    th = learn(history({0.02: 500, 0.9: 500}))
    assert th.source == "provisional" and level_for(0.9, STANDBY, th) == STANDBY
    assert level_for(0.9 * 2.5, STANDBY, th) == ON  # a clearly higher level is a run even before it is learned


def test_noise_around_a_threshold_does_not_flap() -> None:
    th = Thresholds(0.2, 2.0, 1.25, "learned")
    c = Classifier(th)
    rng = random.Random(7)
    changes = []
    c.observe(0, 2.6, DWELL)  # on
    for i in range(1, 500):  # hovering at the threshold, +-15 %
        change = c.observe(i * S, 2.0 * rng.uniform(0.85, 1.15), DWELL)
        if change:
            changes.append(change)
    assert changes == [] and c.state == ON


def test_a_spike_shorter_than_the_dwell_time_changes_nothing() -> None:
    c = Classifier(Thresholds(0.2, 2.0, 1.25, "learned"))
    c.observe(0, 0.8, DWELL)
    assert c.state == STANDBY
    assert c.observe(S, 6.0, DWELL) is None  # a pump kicking in
    assert c.observe(2 * S, 0.8, DWELL) is None and c.state == STANDBY


def test_a_real_change_is_dated_from_its_first_reading() -> None:
    c = Classifier(Thresholds(0.2, 2.0, 1.25, "learned"))
    c.observe(0, 0.02, DWELL)
    assert c.state == OFF
    assert c.observe(S, 0.8, DWELL) is None
    assert c.observe(2 * S, 0.8, DWELL) is None
    assert c.observe(3 * S, 0.8, DWELL) == (STANDBY, S)  # 40 s of standby: changed, since the first reading


def test_learning_follows_the_instrument() -> None:
    c = Classifier()
    t = 0
    for amps, n in ((0.02, 200), (0.8, 200), (3.0, 200), (0.8, 100)):
        for _ in range(n):
            c.observe(t, amps, DWELL)
            t += S
            if c.learning_due():
                c.relearn()
    assert c.learned.source == "learned" and 0.8 < c.thresholds.on_above_a < 3.0 and c.state == STANDBY
