"""`flask worker`: the RQ worker entry point."""
from __future__ import annotations

import click
from flask import current_app
from flask.cli import with_appcontext
from rq import Queue, SimpleWorker, Worker

from core.queue import DEFAULT_QUEUE
from workers.runtime import WorkerRuntime, configure


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
    w.work(burst=burst, with_scheduler=False)
