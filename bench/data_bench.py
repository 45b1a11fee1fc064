"""Management-by-data benchmark: monthly hours, the idle report and the evaluation's indicators over
--instruments instruments × one year of state intervals, against one SQL aggregate of the same
intervals (sum of seconds per instrument and state) measured in the same run.

1. build    a fresh database (SQLite in a temp dir, or DATABASE_URL) with --institutions
            institutions, --instruments instruments (value, classification, city) and
            --per-day state intervals per instrument and day of 2025, written in bulk.
2. measure  in a fresh process each (so peak memory is that work's own):
            baseline  the one aggregate over the year's intervals;
            pipeline  refresh the twelve months' figures (instrument_months), generate the
                      November–December idle report (which freezes its months), and compute the
                      evaluation's data indicators for 2025 when that module is present.
            Each is run --rounds times; the median time and the peak RSS are printed.

Target: the pipeline under 60 s and under 1 GB for 10,000 instruments on this machine.

    .venv/bin/python bench/data_bench.py [--instruments 10000 --per-day 4 --rounds 3]

Figures are printed as they come and written to bench/out/data_bench.json.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import machine_info  # noqa: E402  (bench/ is on the path when a benchmark runs as a script)

CITIES = ["重庆", "成都", "杭州", "宁波", "西安", "武汉", "长沙", "南京"]
CLASSES = ["0101", "0102", "0103", "0104", "0105", "0201", "0500", "1200"]
YEAR = 2025
TZ = "Asia/Shanghai"


def _app(data_dir: Path) -> Any:
    from app import create_app
    from core.config import load_settings

    env = {"DATA_DIR": str(data_dir), "DEMO_MODE": "1"}
    if os.environ.get("DATABASE_URL"):
        env["DATABASE_URL"] = os.environ["DATABASE_URL"]
    return create_app(load_settings(env))


def build(data_dir: Path, institutions: int, instruments: int, per_day: int, seed: int) -> dict[str, Any]:
    from sqlalchemy import insert

    from core.models import Institution, Instrument, InstrumentStateInterval

    app = _app(data_dir)
    assert app.test_cli_runner().invoke(args=["db", "upgrade"]).exit_code == 0
    rng = random.Random(seed)
    started = time.perf_counter()
    engine = app.extensions["platform"].engine
    with engine.begin() as conn:
        conn.execute(insert(Institution), [dict(code=f"B-{i:03d}", name=f"测试单位{i}", city=CITIES[i % len(CITIES)],
                                                status="approved") for i in range(institutions)])
        conn.execute(insert(Instrument), [dict(
            code=f"B-{n:05d}", institution_id=1 + n % institutions, name=f"仪器{n}",
            value_cny=rng.choice([200_000, 350_000, 800_000, 2_500_000]), classification_code=rng.choice(CLASSES),
            city=CITIES[(n % institutions) % len(CITIES)], in_service_date=date(2019, 1, 1), open_for_sharing=True,
            extra={}, disciplines=[]) for n in range(instruments)])
    start = datetime(YEAR, 1, 1, tzinfo=timezone.utc) - timedelta(hours=8)
    rows = 0
    states = ("off", "standby", "on", "standby")
    with engine.begin() as conn:
        for n in range(instruments):
            # busy instruments run most of the day, idle ones barely: the report must find both
            busy = rng.random()
            batch, moment = [], start
            for day in range(365):
                edges = sorted(rng.uniform(0, 24) for _ in range(per_day - 1))
                lengths = [b - a for a, b in zip([0.0, *edges], [*edges, 24.0])]
                for k, hours in enumerate(lengths):
                    state = states[k % 4] if busy > 0.3 else ("off" if k % 2 == 0 else "standby")
                    end = moment + timedelta(hours=hours)
                    batch.append(dict(instrument_id=n + 1, state=state, start_at=moment, end_at=end, source="sensor"))
                    moment = end
            conn.execute(insert(InstrumentStateInterval), batch)
            rows += len(batch)
    return {"intervals": rows, "build_s": round(time.perf_counter() - started, 1)}


def baseline(data_dir: Path) -> dict[str, Any]:
    from sqlalchemy import text

    app = _app(data_dir)
    engine = app.extensions["platform"].engine
    seconds = ("extract(epoch from end_at - start_at)" if engine.dialect.name == "postgresql"
               else "(julianday(end_at) - julianday(start_at)) * 86400")
    started = time.perf_counter()
    with engine.connect() as conn:
        found = conn.execute(text(f"SELECT instrument_id, state, SUM({seconds}) FROM instrument_state_intervals "
                                  "GROUP BY instrument_id, state")).all()
    return {"seconds": time.perf_counter() - started, "groups": len(found)}


def pipeline(data_dir: Path) -> dict[str, Any]:
    from core.services.data import idle_report
    from core.services.data.monthly_hours import months_of, refresh_months

    app = _app(data_dir)
    platform = app.extensions["platform"]
    rules = platform.settings.data
    figures: dict[str, Any] = {}
    started = time.perf_counter()
    with platform.transaction() as session:
        figures["month_rows"] = refresh_months(session, months_of(f"{YEAR}-01", f"{YEAR}-12"), rules, TZ)
    figures["monthly_s"] = round(time.perf_counter() - started, 2)
    mark = time.perf_counter()
    with platform.transaction() as session:
        report = idle_report.generate(session, f"{YEAR}-11", f"{YEAR}-12", rules, TZ, "bench")
        figures["idle_listed"], figures["idle"] = report.body["totals"]["listed"], report.body["totals"]["idle"]
    figures["idle_report_s"] = round(time.perf_counter() - mark, 2)
    from sqlalchemy import select

    from core.models import Institution
    from core.services.data.evaluation_indicators import measure

    mark = time.perf_counter()
    with platform.transaction(write=False) as session:
        ids = list(session.scalars(select(Institution.id)))
        figures["evaluated_institutions"] = len([measure(session, i, YEAR, TZ) for i in ids])
    figures["indicators_s"] = round(time.perf_counter() - mark, 2)
    figures["seconds"] = time.perf_counter() - started
    return figures


def _child(step: str, data_dir: Path) -> dict[str, Any]:
    """Run one measured step in a fresh process: its peak RSS is its own."""
    out = subprocess.run([sys.executable, __file__, "--step", step, "--data-dir", str(data_dir)],
                         check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--institutions", type=int, default=200)
    parser.add_argument("--instruments", type=int, default=10_000)
    parser.add_argument("--per-day", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--step", choices=("baseline", "pipeline"))
    parser.add_argument("--data-dir", type=Path)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "out" / "data_bench.json")
    args = parser.parse_args()
    if args.step:
        result = (baseline if args.step == "baseline" else pipeline)(args.data_dir)
        result["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
        print(json.dumps(result))
        return

    report: dict[str, Any] = {"machine": machine_info.machine(), "instruments": args.instruments, "per_day": args.per_day}
    print(json.dumps(report["machine"], ensure_ascii=False))
    with tempfile.TemporaryDirectory(prefix="data-bench-") as tmp:
        data_dir = Path(tmp)
        report["build"] = build(data_dir, args.institutions, args.instruments, args.per_day, args.seed)
        print(f"built {report['build']['intervals']:,} intervals for {args.instruments:,} instruments "
              f"in {report['build']['build_s']} s", flush=True)
        runs: dict[str, list[dict[str, Any]]] = {"baseline": [], "pipeline": []}
        for round_no in range(args.rounds):
            for step in ("baseline", "pipeline"):
                runs[step].append(_child(step, data_dir))
                r = runs[step][-1]
                print(f"round {round_no + 1} {step}: {r['seconds']:.2f} s, peak RSS {r['peak_rss_mb']} MB "
                      f"{ {k: v for k, v in r.items() if k not in ('seconds', 'peak_rss_mb')} }", flush=True)
        for step, results in runs.items():
            report[step] = {"median_s": round(statistics.median(r["seconds"] for r in results), 2),
                            "peak_rss_mb": max(r["peak_rss_mb"] for r in results), "runs": results}
        report["ratio"] = round(report["pipeline"]["median_s"] / report["baseline"]["median_s"], 1)
    print(f"baseline (one SQL aggregate): median {report['baseline']['median_s']} s, "
          f"peak RSS {report['baseline']['peak_rss_mb']} MB")
    print(f"pipeline (12 months + idle report + indicators): median {report['pipeline']['median_s']} s, "
          f"peak RSS {report['pipeline']['peak_rss_mb']} MB; ratio {report['ratio']}x the aggregate")
    args.out.parent.mkdir(exist_ok=True)
    args.out.write_text(json.dumps(report, ensure_ascii=False, indent=2) + "\n", "utf-8")


if __name__ == "__main__":
    main()
