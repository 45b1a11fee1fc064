"""The simulator's traces are realistic enough to be hard, and the tracker gets them right."""
import json
from pathlib import Path

import numpy as np

from iot.classifier import OFFLINE, ON
from iot.evaluation import replay, score
from iot.simulator import TYPES, simulate, write_labels
from iot.tracker import TrackerRules

START = 1_735_689_600_000  # 2025-01-01 00:00 UTC, a Wednesday
CODES = [f"SIM-{i:03d}" for i in range(len(TYPES))]


def test_ground_truth_file_matches_the_traces(tmp_path: Path) -> None:
    traces = simulate(CODES, START, 2 * 86400, 20, seed=5)
    lines = write_labels(tmp_path / "labels.jsonl", traces)
    rows = [json.loads(line) for line in (tmp_path / "labels.jsonl").read_text().splitlines()]
    assert len(rows) == lines and {r["instrument"] for r in rows} == set(CODES)
    for trace in traces:
        mine = [r for r in rows if r["instrument"] == trace.code]
        assert mine[0]["start_ms"] == START and mine[-1]["end_ms"] == START + 2 * 86400 * 1000
        assert all(a["end_ms"] == b["start_ms"] for a, b in zip(mine, mine[1:]))  # no gap, no overlap
    # types differ in their levels, and there are runs, noise and lost readings
    on_levels = {t.kind: float(np.median(t.current[t.truth == ON])) for t in traces if (t.truth == ON).any()}
    assert max(on_levels.values()) > 3 * min(on_levels.values())
    assert any(not t.published.all() for t in traces)


def test_states_and_hours_match_the_ground_truth(tmp_path: Path) -> None:
    traces = simulate(CODES, START, 4 * 86400, 20, seed=15)  # a seed with three outages
    changes, detections = replay(traces, TrackerRules(min_dwell_ms=40_000, offline_after=2.5, default_interval_ms=20_000))
    result = score(traces, changes, detections, 20_000)
    assert result.accuracy >= 0.97
    assert result.on_hours_error <= 0.03
    outages = sum(int((np.diff((t.truth == OFFLINE).astype(int)) == 1).sum()) for t in traces)
    assert outages == 3 and result.outages_missed == 0 and len(result.offline_delays) >= outages
    assert max(result.offline_delays, default=0) <= 3.1  # within three reporting intervals of the last reading
