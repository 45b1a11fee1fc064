"""IoT benchmark: state accuracy against ground truth, ingestion rate, memory.

1. accuracy   a simulated month (--days) of --instruments instruments, one
              reading every 20 s, replayed through the tracker on the
              simulated clock: per-sample state accuracy, on-hours and
              standby-hours error, and how long after its last reading a
              silent sensor is declared offline (in reporting intervals).
2. ingestion  one `Ingestion` process (the code `flask iot ingest` runs:
              broker -> queue -> tracker -> SQLite + Redis, one transaction
              per batch) tracking --fleet instruments, fed through the broker
              at --mqtt (default Mosquitto on 127.0.0.1:1883) by a publisher
              process at each offered load of --rates; next to it, the
              baseline: a bare paho subscriber that only counts, on the same
              load, QoS and broker, measured in the same run. Mosquitto drops
              what a subscriber cannot take, so the sustained rate is the
              fastest load taken without loss; the rate per CPU-second of the
              consumer shows its capacity where the publisher, sharing the two
              cores, is the limit. The first reading of every instrument
              (which opens its first interval) is sent before measuring.
3. memory     RSS of the ingestion process at the end of its runs, tracking
              the whole fleet.

Targets: accuracy >= 97 %, hours error <= 2 %, offline within 3 reporting
intervals; >= 5,000 readings/s in one process; < 500 MB for 90,000 instruments.

    .venv/bin/python bench/iot_bench.py [--instruments 50 --days 30] [--fleet 90000]
        [--rates 5000,10000,15000,0 --messages 100000 --rounds 3] [--mqtt mqtt://127.0.0.1:1883] [--skip-accuracy]

Figures are printed as they come and written to bench/out/iot_bench.json.
"""
from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse

import machine_info  # bench/ is on the path when a benchmark runs as a script
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any, Sequence
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import psutil  # noqa: E402

OUT_FILE = ROOT / "bench" / "out" / "iot_bench.json"
INTERVAL_S = 20
START_MS = 1_735_660_800_000  # 2025-01-01 00:00 in Asia/Shanghai
TARGETS = {"accuracy": 0.97, "hours_error": 0.02, "offline_intervals": 3.0, "readings_per_s": 5000, "rss_mb": 500}
DISTINCT_TRACES = 500  # fleet instruments replay these traces (the fleet is too large to simulate one by one)
REPORT_EVERY_S = 0.25


# ---------------------------------------------------------------------------
# 1. accuracy
# ---------------------------------------------------------------------------
def bench_accuracy(instruments: int, days: float, seed: int) -> dict[str, Any]:
    from iot.evaluation import replay, score
    from iot.simulator import simulate
    from iot.tracker import TrackerRules

    codes = [f"ACC-{i:04d}" for i in range(instruments)]
    t0 = time.perf_counter()
    traces = simulate(codes, START_MS, days * 86400, INTERVAL_S, seed=seed)
    t1 = time.perf_counter()
    rules = TrackerRules(min_dwell_ms=40_000, offline_after=2.5, default_interval_ms=INTERVAL_S * 1000)
    changes, detections = replay(traces, rules)
    t2 = time.perf_counter()
    s = score(traces, changes, detections, INTERVAL_S * 1000)
    samples = sum(len(t.ts) for t in traces)
    result = {
        "instruments": instruments, "days": days, "samples": samples,
        "published": int(sum(int(t.published.sum()) for t in traces)),
        "accuracy": s.accuracy,
        "on_hours_true": s.true_on_h, "on_hours_found": s.found_on_h, "on_hours_error": s.on_hours_error,
        "on_hours_error_per_instrument_median": float(np.median(s.per_instrument_on_error)),
        "on_hours_error_per_instrument_p95": float(np.percentile(s.per_instrument_on_error, 95)),
        "standby_hours_error": s.standby_hours_error,
        "outages": len(s.offline_delays) + s.outages_missed, "outages_missed": s.outages_missed,
        "offline_after_last_reading_median": float(np.median(s.offline_delays)) if s.offline_delays else None,
        "offline_after_last_reading_max": max(s.offline_delays) if s.offline_delays else None,
        "replay_readings_per_s": samples / (t2 - t1), "simulate_s": t1 - t0,
    }
    print(f"  {instruments} instruments x {days:g} days at {INTERVAL_S} s = {samples} samples "
          f"({result['published']} published): accuracy {s.accuracy:.2%}", flush=True)
    print(f"  on-hours {s.found_on_h:.0f} found vs {s.true_on_h:.0f} true: error {s.on_hours_error:.2%} "
          f"(per instrument median {result['on_hours_error_per_instrument_median']:.2%}, "
          f"p95 {result['on_hours_error_per_instrument_p95']:.2%}); standby-hours error {s.standby_hours_error:.2%}",
          flush=True)
    if s.offline_delays:
        print(f"  {result['outages']} outages, {s.outages_missed} missed; declared offline "
              f"{result['offline_after_last_reading_median']:.2f} (median) / {result['offline_after_last_reading_max']:.2f} "
              f"(max) reporting intervals after the last reading", flush=True)
    return result


# ---------------------------------------------------------------------------
# 2-3. ingestion: the roles run as subprocesses of this script
# ---------------------------------------------------------------------------
def emit(**fields: Any) -> None:
    print(json.dumps(fields), flush=True)


def role_count(host: str, port: int, prefix: str, qos: int) -> None:
    """The baseline: a paho subscriber whose callback only counts."""
    import paho.mqtt.client as mqtt

    count = 0

    def on_message(_c: Any, _u: Any, _m: Any) -> None:
        nonlocal count
        count += 1

    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"bench-count-{uuid.uuid4().hex[:6]}")
    client.on_connect = lambda c, *_: c.subscribe(f"{prefix}instruments/+/telemetry", qos)
    client.on_message = on_message
    client.connect(host, port, keepalive=60)
    client.loop_start()
    while not client.is_connected():
        time.sleep(0.05)
    time.sleep(0.3)
    emit(ready=True)
    _report_until_stdin_closes(lambda: count, None)
    client.disconnect()
    client.loop_stop()


def role_ingest(data_dir: str, mqtt_url: str, prefix: str, qos: int) -> None:
    """The real ingestion (one process), counting readings once their batch is committed and published."""
    from app import create_app
    from core.config import load_settings
    from iot.ingest import Ingestion

    env = {"DATA_DIR": data_dir, "MQTT_URL": mqtt_url, "IOT_TOPIC_PREFIX": prefix, "IOT_QOS": str(qos), "DEMO_MODE": "1"}
    app = create_app(load_settings(env))
    committed = 0
    ingestion: Ingestion | None = None

    def after_batch() -> None:
        nonlocal committed
        assert ingestion is not None
        committed = ingestion.stats.messages

    ingestion = Ingestion(app.extensions["platform"], client_id=f"bench-ingest-{uuid.uuid4().hex[:6]}",
                          after_batch=after_batch)
    ingestion.start()
    while not ingestion.connected:
        time.sleep(0.05)
    time.sleep(0.3)
    emit(ready=True, instruments=len(ingestion._ids))
    _report_until_stdin_closes(lambda: committed, ingestion)
    stats = ingestion.stats
    emit(final=True, rss_mb=psutil.Process().memory_info().rss / 2**20, tracked=len(ingestion.tracker.tracks),
         changes=stats.changes, rejected=dict(stats.rejected), db_errors=stats.db_errors, batches=stats.batches)
    ingestion.stop()
    app.extensions["platform"].close()


def _report_until_stdin_closes(counter: Any, ingestion: Any) -> None:
    done = threading.Event()
    threading.Thread(target=lambda: (sys.stdin.read(), done.set()), daemon=True).start()
    me = psutil.Process()
    while not done.wait(REPORT_EVERY_S):
        cpu = me.cpu_times()
        fields = {"t": time.time(), "count": counter(), "cpu": cpu.user + cpu.system}
        if ingestion is not None:
            fields["rss_mb"] = psutil.Process().memory_info().rss / 2**20
        emit(**fields)


def role_publish(host: str, port: int, prefix: str, fleet: int, messages: int, offset: int, qos: int,
                 rate: float) -> None:
    """Readings of --fleet instruments, one per instrument per round, values from simulated traces,
    paced at `rate` a second (0: as fast as possible)."""
    import paho.mqtt.client as mqtt

    from iot.simulator import simulate

    rounds = max(1, -(-(messages + offset) // fleet))
    traces = simulate([f"T{i}" for i in range(min(fleet, DISTINCT_TRACES))], START_MS, (rounds + 1) * INTERVAL_S,
                      INTERVAL_S, seed=7)
    values = np.stack([t.current for t in traces])
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"bench-pub-{uuid.uuid4().hex[:6]}")
    client.max_queued_messages_set(0)
    client.max_inflight_messages_set(1000)
    client.connect(host, port, keepalive=60)
    client.loop_start()
    topics = [f"{prefix}instruments/BENCH-{i:06d}/telemetry" for i in range(fleet)]
    start = time.time()
    sent = 0
    now_ms = int(time.time() * 1000)
    for n in range(offset, offset + messages):
        i, r = n % fleet, n // fleet
        if i == 0:
            now_ms = int(time.time() * 1000)
        if rate and sent % 500 == 0:
            ahead = start + sent / rate - time.time()
            if ahead > 0:
                time.sleep(ahead)
        amps = float(values[i % len(traces), r % values.shape[1]])
        client.publish(topics[i], f'{{"ts":{now_ms + r},"current_a":{amps:.4f}}}'.encode(), qos=qos)
        sent += 1
    elapsed = time.time() - start
    client.disconnect()
    client.loop_stop()
    emit(sent=sent, seconds=elapsed)


class Child:
    def __init__(self, args: list[str]):
        self.proc = subprocess.Popen([sys.executable, __file__, *args], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     text=True, cwd=ROOT, env=_clean_env())
        self.reports: list[dict[str, Any]] = []
        self.ready = threading.Event()
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            if line.startswith("{"):
                row = json.loads(line)
                self.reports.append(row)
                if row.get("ready"):
                    self.ready.set()

    def count(self) -> int:
        counts = [r["count"] for r in self.reports if "count" in r]
        return counts[-1] if counts else 0

    def finish(self, timeout: float = 60) -> dict[str, Any]:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        self.proc.wait(timeout)
        self.thread.join(5)
        finals = [r for r in self.reports if r.get("final") or "sent" in r]
        return finals[-1] if finals else {}


def _clean_env() -> dict[str, str]:
    # the children use the embedded Redis and SQLite of their DATA_DIR, never a shared server
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "DATABASE_URL", "MQTT_URL", "DATA_DIR")}
    env["PYTHONPATH"] = str(ROOT)
    env["DEMO_MODE"] = "1"
    return env


def steady_rate(reports: Sequence[dict[str, Any]], start: float, target: int, base: int) -> tuple[float, float]:
    """Readings per second of wall clock and per CPU-second of the consumer, over the middle
    80 % of a run (from 10 % to 90 % of the messages)."""
    rows = [(r["t"], r["count"] - base, r["cpu"]) for r in reports if "count" in r and r["t"] >= start]
    lo = next((row for row in rows if row[1] >= 0.1 * target), None)
    hi = next((row for row in rows if row[1] >= 0.9 * target), None)
    if lo is None or hi is None or hi[0] <= lo[0]:
        return float("nan"), float("nan")
    return (hi[1] - lo[1]) / (hi[0] - lo[0]), (hi[1] - lo[1]) / max(hi[2] - lo[2], 1e-9)


def make_fleet(data_dir: Path, fleet: int) -> None:
    from sqlalchemy import insert

    from app import create_app
    from core.config import load_settings
    from core.db import unit_of_work
    from core.models import Institution, Instrument

    app = create_app(load_settings({"DATA_DIR": str(data_dir), "DEMO_MODE": "1"}))
    result = app.test_cli_runner().invoke(args=["db", "upgrade"])
    assert result.exit_code == 0, result.output
    with unit_of_work(app.extensions["platform"].session_factory) as session:
        inst = Institution(code="BENCH", name="基准测试中心", city="重庆")
        session.add(inst)
        session.flush()
        session.execute(insert(Instrument), [
            {"code": f"BENCH-{i:06d}", "institution_id": inst.id, "name": "仪器", "extra": {}} for i in range(fleet)
        ])
    app.extensions["platform"].close()


def wait_settled(child: Child, target: int, timeout: float) -> int:
    """Wait until the count reaches target or stops moving for two seconds (Mosquitto drops what a
    client cannot take: loss shows as a count that stays short)."""
    deadline = time.time() + timeout
    last, still_since = -1, time.time()
    while time.time() < deadline:
        count = child.count()
        if count >= target:
            return count
        if count != last:
            last, still_since = count, time.time()
        elif time.time() - still_since > 2.0:
            return count
        time.sleep(0.1)
    return child.count()


def bench_ingestion(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    url = urlsplit(args.mqtt)
    host, port = url.hostname or "127.0.0.1", url.port or 1883
    data_dir = work / "ingest"
    t0 = time.perf_counter()
    make_fleet(data_dir, args.fleet)
    print(f"  fleet of {args.fleet} instruments in SQLite in {time.perf_counter() - t0:.1f} s", flush=True)
    prefix = f"bench{uuid.uuid4().hex[:6]}/"
    base_prefix = prefix + "baseline/"  # the ingestion does not hear the baseline's traffic
    rates = [float(r) for r in args.rates.split(",")]

    def publish(to: str, offset: int, count: int, rate: float) -> dict[str, Any]:
        pub = Child(["--role", "publish", host, str(port), to, str(args.qos), str(args.fleet), str(count),
                     str(offset), str(rate)])
        return pub.finish(timeout=600)

    ingest = Child(["--role", "ingest", str(data_dir), args.mqtt, prefix, str(args.qos)])
    if not ingest.ready.wait(120):
        raise SystemExit("the ingestion process did not start")
    # every instrument's first reading opens its first interval: not the steady state, sent gently
    t_warm = time.time()
    publish(prefix, 0, args.fleet, 3000)
    warm = wait_settled(ingest, args.fleet, 120)
    print(f"  warm-up: {warm} of {args.fleet} first readings (each opens an interval) in {time.time() - t_warm:.1f} s",
          flush=True)
    offset = args.fleet
    rows = []
    for rate in rates:
        for side in ("baseline", "ingestion"):
            for round_no in range(args.rounds):
                if side == "baseline":
                    child = Child(["--role", "count", host, str(port), base_prefix, str(args.qos)])
                    child.ready.wait(30)
                    before = 0
                else:
                    child, before = ingest, ingest.count()
                start = time.time()
                sent = publish(base_prefix if side == "baseline" else prefix, offset, args.messages, rate)
                offset += args.messages
                got = wait_settled(child, before + args.messages, 120) - before
                wall, per_cpu = steady_rate(child.reports, start, got, before)
                if side == "baseline":
                    child.finish()
                rows.append({"offered": rate, "side": side, "round": round_no, "published_per_s":
                             sent["sent"] / sent["seconds"], "received": got, "loss": 1 - got / args.messages,
                             "per_s": wall, "per_cpu_s": per_cpu})
                print(f"  offered {rate or 'max':>6}/s  {side:<9} publisher {sent['sent'] / sent['seconds']:6.0f}/s  "
                      f"received {got:>7}/{args.messages} (loss {1 - got / args.messages:6.2%})  "
                      f"{wall:6.0f}/s  {per_cpu:6.0f} per CPU-s", flush=True)
    final = ingest.finish(timeout=120)
    rss_peak = max((r.get("rss_mb", 0) for r in ingest.reports), default=0)

    def summary(side: str) -> dict[str, Any]:
        mine = [r for r in rows if r["side"] == side]
        kept_up = [r for r in mine if r["loss"] <= 0.001]
        return {
            # the fastest offered load taken without loss (medians of the rounds at that load)
            "sustained_per_s": max((statistics.median(r["per_s"] for r in kept_up if r["offered"] == rate)
                                    for rate in {r["offered"] for r in kept_up}), default=0.0),
            "per_cpu_s_median": statistics.median(r["per_cpu_s"] for r in mine),
        }

    result = {
        "fleet": args.fleet, "messages_per_run": args.messages, "rounds": args.rounds, "qos": args.qos,
        "broker": f"{host}:{port}", "runs": rows, "baseline": summary("baseline"), "ingestion": summary("ingestion"),
        "rss_mb_end": final.get("rss_mb"), "rss_mb_peak": rss_peak, "tracked": final.get("tracked"),
        "state_changes": final.get("changes"), "db_errors": final.get("db_errors"), "batches": final.get("batches"),
    }
    return result


# ---------------------------------------------------------------------------
def machine() -> dict[str, Any]:
    return machine_info.machine(mosquitto=shutil.which("mosquitto") is not None)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--instruments", type=int, default=50)
    p.add_argument("--days", type=float, default=30)
    p.add_argument("--seed", type=int, default=2025)
    p.add_argument("--fleet", type=int, default=90_000)
    p.add_argument("--messages", type=int, default=100_000, help="readings per measured run")
    p.add_argument("--rates", default="5000,10000,15000,0", help="offered loads, readings/s (0: as fast as possible)")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--qos", type=int, default=0)
    p.add_argument("--mqtt", default="mqtt://127.0.0.1:1883")
    p.add_argument("--skip-accuracy", action="store_true")
    p.add_argument("--skip-ingestion", action="store_true")
    p.add_argument("--out", type=Path, default=OUT_FILE)
    p.add_argument("--role", nargs="+", help=argparse.SUPPRESS)
    return p.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    if args.role:
        role, *rest = args.role
        if role == "count":
            role_count(rest[0], int(rest[1]), rest[2], int(rest[3]))
        elif role == "ingest":
            role_ingest(rest[0], rest[1], rest[2], int(rest[3]))
        elif role == "publish":
            role_publish(rest[0], int(rest[1]), rest[2], int(rest[4]), int(rest[5]), int(rest[6]), int(rest[3]),
                         float(rest[7]))
        return
    info = machine()
    print(f"iot bench on {info['nproc']} cores ({info['cpu']}), Python {info['python']}", flush=True)
    report: dict[str, Any] = {"machine": info, "targets": TARGETS}
    if not args.skip_accuracy:
        print("1. state accuracy against the simulator's ground truth", flush=True)
        report["accuracy"] = bench_accuracy(args.instruments, args.days, args.seed)
    if not args.skip_ingestion:
        print(f"2. ingestion through {args.mqtt}, QoS {args.qos}, one process", flush=True)
        work = Path(tempfile.mkdtemp(prefix="iot-bench-"))
        try:
            report["ingestion"] = bench_ingestion(args, work)
        finally:
            shutil.rmtree(work, ignore_errors=True)
    print_summary(report)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, ensure_ascii=False, indent=2) + "\n", "utf-8")
    print(f"\nwritten {args.out}")


def print_summary(report: dict[str, Any]) -> None:
    def mark(ok: bool) -> str:
        return "ok" if ok else "MISSED"

    print("\nsummary")
    acc = report.get("accuracy")
    if acc:
        print(f"  per-sample state accuracy   {acc['accuracy']:.2%}   target >= 97 %  {mark(acc['accuracy'] >= 0.97)}")
        print(f"  on-hours error              {acc['on_hours_error']:.2%}   target <= 2 %   "
              f"{mark(acc['on_hours_error'] <= 0.02)}")
        if acc["offline_after_last_reading_max"] is not None:
            print(f"  offline declared after      {acc['offline_after_last_reading_median']:.2f} median / "
                  f"{acc['offline_after_last_reading_max']:.2f} max intervals since the last reading "
                  f"({acc['offline_after_last_reading_max'] - 1:.2f} since the first missing one)  "
                  f"target <= 3  {mark(acc['offline_after_last_reading_max'] - 1 <= 3)}")
    ing = report.get("ingestion")
    if ing:
        mine, base = ing["ingestion"], ing["baseline"]
        print(f"  ingestion, one process      {mine['sustained_per_s']:.0f} readings/s sustained without loss "
              f"(bare paho subscriber {base['sustained_per_s']:.0f}/s, ratio "
              f"{mine['sustained_per_s'] / max(base['sustained_per_s'], 1):.2f})  target >= 5,000  "
              f"{mark(mine['sustained_per_s'] >= 5000)}")
        print(f"  … per CPU-second of the consumer {mine['per_cpu_s_median']:.0f} "
              f"(bare subscriber {base['per_cpu_s_median']:.0f}, ratio "
              f"{mine['per_cpu_s_median'] / base['per_cpu_s_median']:.2f}): one process's capacity where the "
              f"publisher sharing the two cores is not the limit")
        print(f"  RSS tracking {ing['tracked']} instruments  {ing['rss_mb_end']:.0f} MB (peak {ing['rss_mb_peak']:.0f} MB)"
              f"  target < 500 MB  {mark((ing['rss_mb_peak'] or 0) < 500)}")


if __name__ == "__main__":
    main()
