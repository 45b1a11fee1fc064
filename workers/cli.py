"""`flask worker`: the RQ worker entry point, with RQ's scheduler for timed jobs
(expiry, auto-confirmation, group-buy deadlines) and a minute-by-minute sweep."""
from __future__ import annotations

import threading

import click
import redis
from flask import current_app
from flask.cli import with_appcontext
from rq import Queue, SimpleWorker, Worker

from core.queue import DEFAULT_QUEUE, SWEEP_JOB, enqueue
from workers.runtime import WorkerRuntime, configure

SWEEP_SECONDS = 60


def _sweep_forever(conn: redis.Redis, stop: threading.Event) -> None:
    """Enqueue the catch-up sweep once a minute, once across all workers (a Redis lock)."""
    while not stop.wait(SWEEP_SECONDS):
        try:
            if conn.set("worker:sweep-lock", "1", nx=True, ex=SWEEP_SECONDS - 5):
                enqueue(conn, SWEEP_JOB)
        except redis.RedisError as exc:
            click.echo(f"sweep not enqueued: {exc}", err=True)


@click.command("worker")
@with_appcontext
@click.argument("queues", nargs=-1)
@click.option("--burst", is_flag=True, help="Work until the queues are empty, then exit.")
@click.option("--simple", is_flag=True, help="Run jobs in this process instead of forking one per job.")
def worker(queues: tuple[str, ...], burst: bool, simple: bool) -> None:
    """Run a worker on QUEUES (default: default)."""
    platform = current_app.extensions["platform"]
    configure(WorkerRuntime(platform, current_app.extensions["search"]))
    conn = platform.redis
    cls = SimpleWorker if simple else Worker
    w = cls([Queue(q, connection=conn) for q in (queues or (DEFAULT_QUEUE,))], connection=conn)
    stop = threading.Event()
    if not burst:
        threading.Thread(target=_sweep_forever, args=(conn, stop), daemon=True, name="sweep").start()
    try:
        w.work(burst=burst, with_scheduler=True)
    finally:
        stop.set()
