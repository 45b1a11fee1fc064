"""A hidden Markov model as a reference in the evaluation (`flask iot evaluate --with-hmm`).

The adaptive method was chosen by measurement against this: a Gaussian HMM (hmmlearn) over
log-current, fitted on each instrument's whole trace at once and decoded by Viterbi, with the
same offline rules (silence, dead clamps). It sees the future and the whole week, which a live
ingestion cannot; it costs seconds per instrument-week where the state machine costs microseconds
per reading; and it still has no notion of a duty cycle. The table shows what that buys.
"""
from __future__ import annotations

import math
from typing import Sequence

import numpy as np

from iot.classifier import OFF, OFFLINE, ON, STANDBY, STATE_NAMES
from iot.levels import OFF_LEVEL_MAX_A
from iot.simulator import Trace
from iot.state_machine import FAULT_AFTER_MS, ZERO_A
from iot.tracker import Change

STATES = 3
SAME_LEVEL = 0.05  # decades
STAY = 0.995  # the transition matrix is held sticky: a state lasts minutes, not a reading
OFFLINE_AFTER = 2.5  # reporting intervals, as the tracker


def _labels(means: np.ndarray) -> dict[int, int]:
    """HMM state -> OFF / STANDBY / ON by its mean log-current."""
    order = list(np.argsort(means))
    labels: dict[int, int] = {}
    powered = [s for s in order if means[s] >= math.log10(OFF_LEVEL_MAX_A)]
    for s in order:
        if s not in powered:
            labels[s] = OFF
        else:  # a powered state close to the lowest powered one is the same standby, split by noise
            labels[s] = STANDBY if means[s] - means[powered[0]] < SAME_LEVEL else ON
    return labels


def hmm_history(trace: Trace, seed: int = 0) -> list[Change]:
    """The states a 3-state Gaussian HMM finds in the trace's delivered readings (true instants)."""
    from hmmlearn.hmm import GaussianHMM

    idx = np.nonzero(trace.published)[0]
    if len(idx) < 10:
        return []
    ts, amps = trace.ts[idx], trace.current[idx].astype(float)
    live = amps > ZERO_A
    x = np.log10(np.maximum(amps[live], 1e-3)).reshape(-1, 1)
    model = GaussianHMM(n_components=STATES, covariance_type="diag", n_iter=20, random_state=seed,
                        init_params="smc", params="smc")
    model.transmat_ = np.full((STATES, STATES), (1 - STAY) / (STATES - 1)) + np.eye(STATES) * (STAY - (1 - STAY) / (STATES - 1))
    model.fit(x)
    decoded = model.predict(x)
    labels = _labels(model.means_[:, 0])
    states = np.full(len(ts), OFFLINE, dtype=np.int8)
    states[live] = [labels[int(s)] for s in decoded]
    step = int(trace.ts[1] - trace.ts[0]) if len(trace.ts) > 1 else 20_000
    changes: list[Change] = []
    dead_since = None
    for i, (t, state) in enumerate(zip(ts.tolist(), states.tolist())):
        if i and t - int(ts[i - 1]) > OFFLINE_AFTER * step:
            changes.append(Change(trace.code, "offline", int(ts[i - 1]) + step))
        if state == OFFLINE:  # a zero: a fault once it has lasted
            dead_since = t if dead_since is None else dead_since
            if t - dead_since >= FAULT_AFTER_MS and (not changes or changes[-1].reason != "sensor_fault"):
                changes.append(Change(trace.code, "offline", dead_since, "sensor_fault"))
            continue
        dead_since = None
        if not changes or changes[-1].state != STATE_NAMES[state] or changes[-1].state == "offline":
            changes.append(Change(trace.code, STATE_NAMES[state], t))
    return changes


def hmm_replay(traces: Sequence[Trace]) -> tuple[dict[str, list[Change]], list[tuple[str, int]]]:
    """The HMM's history per instrument, in the shape of evaluation.replay (no live detections)."""
    return {t.code: hmm_history(t) for t in traces}, []
