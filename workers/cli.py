"""`flask worker`: the RQ worker entry point. Queues are taken by priority (money,
deadlines, notifications, default); a relay loop hands out the job outbox's due,
lost and stalled rows every few seconds, and a sweep catches up once a minute."""
from __future__ import annotations

import logging
import threading

import click
import redis
from flask import current_app
from flask.cli import with_appcontext
from rq import Queue, SimpleWorker, Worker
from sqlalchemy.exc import SQLAlchemyError

from core.platform import Platform
from core.queue import QUEUES_BY_PRIORITY, SWEEP_JOB, defer
from workers.outbox import relay_once
from workers.runtime import WorkerRuntime, configure

log = logging.getLogger(__name__)

RELAY_SECONDS = 2.0
SWEEP_SECONDS = 60


def _relay_forever(platform: Platform, stop: threading.Event) -> None:
    """Hand out due and lost jobs every few seconds; once a minute, one worker also queues the sweep.
    A dead worker holds no lock here: the sweep's lock expires, and any worker's relay serves every row."""
    while not stop.wait(RELAY_SECONDS):
        try:
            relay_once(platform)
            if platform.redis.set("worker:sweep-lock", "1", nx=True, ex=SWEEP_SECONDS - 5):
                with platform.transaction() as session:
                    defer(session, SWEEP_JOB)
        except (redis.RedisError, SQLAlchemyError) as exc:
            log.warning("relay pass failed (next pass in %.0f s): %s", RELAY_SECONDS, exc)


def _burst(platform: Platform, worker: Worker, rounds: int = 20) -> None:
    """Work until nothing is due: jobs may defer more jobs, and relay passes find rows Redis lost."""
    for _ in range(rounds):
        handed = relay_once(platform).total
        # no RQ scheduler here: the outbox's own times need none, and its extra connection
        # would keep the embedded Redis alive after the command ends
        worked = worker.work(burst=True, with_scheduler=False)
        if not handed and not worked:
            return


@click.command("worker")
@with_appcontext
@click.argument("queues", nargs=-1)
@click.option("--burst", is_flag=True, help="Work until nothing is due, then exit.")
@click.option("--fork", is_flag=True, help="Fork a process per job (isolation at ~5x the cost per job).")
@click.option("--simple", is_flag=True, hidden=True, help="Kept for old scripts: running in-process is the default.")
def worker(queues: tuple[str, ...], burst: bool, fork: bool, simple: bool) -> None:
    """Run a worker on QUEUES (default: money deadlines notifications default, in that priority)."""
    platform = current_app.extensions["platform"]
    configure(WorkerRuntime(platform, current_app.extensions["search"]))
    conn = platform.redis
    cls = Worker if fork and not simple else SimpleWorker
    w = cls([Queue(q, connection=conn) for q in (queues or QUEUES_BY_PRIORITY)], connection=conn)
    if burst:
        _burst(platform, w)
        return
    stop = threading.Event()
    threading.Thread(target=_relay_forever, args=(platform, stop), daemon=True, name="relay").start()
    try:
        # RQ's own scheduler serves only best-effort retries (bot answers); the outbox needs none of it
        w.work(with_scheduler=True)
    finally:
        stop.set()
