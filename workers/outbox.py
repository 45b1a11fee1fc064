"""Running outbox jobs and handing them out: what makes a job survive Redis and worker loss.

A row of the `jobs` table moves pending → enqueued (its id is on a queue) →
running → done. A failure puts it back to pending with a backoff, so it runs
again until it succeeds; RQ's failed registry still shows each failure. The
relay, a loop in every worker, hands out rows that are due, rows whose queue
entry was lost (Redis flushed or unreachable at hand-out) and rows whose worker
died while running them.
"""
from __future__ import annotations

import logging
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import redis
from rq.job import Job as RqJob
from rq.job import JobStatus
from rq.utils import import_attribute
from sqlalchemy import case, delete, or_, select

from core.models import Job
from core.models._types import utcnow
from core.models.job import JOB_DONE, JOB_ENQUEUED, JOB_PENDING, JOB_RUNNING
from core.platform import Platform
from core.queue import QUEUES_BY_PRIORITY, hand_out, hand_out_marker, redis_job_id
from workers.runtime import current

log = logging.getLogger(__name__)

# outbox jobs are short (provider calls time out after 10 s): a killed worker's job is found within a minute
JOB_TIMEOUT_SECONDS = 40
# an enqueued row older than this whose queue entry is gone is handed out again
HAND_OUT_LEASE = timedelta(seconds=30)
# a running row older than this lost its worker: RQ would have killed the job by now
RUN_LEASE = timedelta(seconds=JOB_TIMEOUT_SECONDS + 15)
_LOST = {JobStatus.FAILED, JobStatus.STOPPED, JobStatus.CANCELED, JobStatus.FINISHED}

# a backlog larger than one pass is handed out money first, as the workers take it
_PRIORITY = case({queue: rank for rank, queue in enumerate(QUEUES_BY_PRIORITY)}, value=Job.queue,
                 else_=len(QUEUES_BY_PRIORITY))

_attempt: ContextVar[int] = ContextVar("job_attempt", default=1)


def current_attempt() -> int:
    """Which run of its outbox row this is (1 for the first), for jobs that give up after a few."""
    return _attempt.get()


def backoff(attempts: int, intervals: tuple[int, ...]) -> timedelta:
    """Seconds before the next try: the configured steps, then the last step for ever."""
    if not intervals:
        return timedelta(0)
    return timedelta(seconds=intervals[min(attempts, len(intervals)) - 1])


def run_job(job_id: int) -> Any:
    """What a worker runs for an outbox row: look it up, run the named job, record the outcome."""
    platform = current().platform
    with platform.transaction() as session:
        job = session.get(Job, job_id, with_for_update=True)
        if job is None or job.status == JOB_DONE:
            return "already done"
        job.status, job.handed_at, job.attempts = JOB_RUNNING, utcnow(), job.attempts + 1
        name, args, attempt = job.name, list(job.args), job.attempts
    token = _attempt.set(attempt)
    try:
        result = import_attribute(name)(*args)
    except BaseException as exc:
        _record_failure(platform, job_id, exc)
        raise
    finally:
        _attempt.reset(token)
    with platform.transaction() as session:
        job = session.get(Job, job_id, with_for_update=True)
        if job is not None:
            job.status, job.done_at, job.last_error = JOB_DONE, utcnow(), None
    return result


def _record_failure(platform: Platform, job_id: int, exc: BaseException) -> None:
    with platform.transaction() as session:
        job = session.get(Job, job_id, with_for_update=True)
        if job is None:
            return
        job.status = JOB_PENDING
        job.due_at = utcnow() + backoff(job.attempts, platform.settings.job_retry_intervals)
        job.last_error = f"{type(exc).__name__}: {exc}"[:2000]


@dataclass(frozen=True)
class RelayReport:
    due: int = 0  # pending rows whose time came
    lost: int = 0  # enqueued rows whose queue entry was gone
    stalled: int = 0  # running rows whose worker died

    @property
    def total(self) -> int:
        return self.due + self.lost + self.stalled


def _lost_in_redis(conn: redis.Redis, jobs: list[Job]) -> set[int]:
    """Rows whose queue entry is gone (Redis flushed, never written) or ended without the row being done."""
    entries = RqJob.fetch_many([redis_job_id(job.id, hand_out_marker(job)) for job in jobs], connection=conn)
    return {job.id for job, entry in zip(jobs, entries)
            if entry is None or entry.get_status(refresh=False) in _LOST}


def relay_once(platform: Platform, now: datetime | None = None, limit: int = 500) -> RelayReport:
    """Hand out every row that is due, lost or stalled. Safe to run in several workers at once:
    a row is claimed by a conditional update before it is handed out."""
    now = now or utcnow()
    with platform.transaction(write=False) as session:
        suspects = list(session.scalars(select(Job).where(
            Job.status == JOB_ENQUEUED, Job.handed_at < now - HAND_OUT_LEASE).order_by(Job.id).limit(limit)))
    lost = _lost_in_redis(platform.redis, suspects) if suspects else set()
    claimed: list[tuple[int, str, str]] = []
    counts = {"due": 0, "lost": 0, "stalled": 0}
    with platform.transaction() as session:
        # each condition re-checks the state: a row may have moved on since the read above
        candidates = session.scalars(select(Job).where(or_(
            (Job.status == JOB_PENDING) & (Job.due_at <= now),
            (Job.status == JOB_ENQUEUED) & Job.id.in_(lost) & (Job.handed_at < now - HAND_OUT_LEASE),
            (Job.status == JOB_RUNNING) & (Job.handed_at < now - RUN_LEASE),
        )).order_by(_PRIORITY, Job.due_at).limit(limit).with_for_update(skip_locked=True)).all()
        for job in candidates:
            kind = {JOB_PENDING: "due", JOB_RUNNING: "stalled"}.get(job.status, "lost")
            job.status, job.handed_at = JOB_ENQUEUED, now
            counts[kind] += 1
            claimed.append((job.id, job.queue, hand_out_marker(job)))
    for position, (job_id, queue, marker) in enumerate(claimed):
        try:
            hand_out(platform.redis, job_id, queue, marker, timeout=JOB_TIMEOUT_SECONDS)
        except redis.RedisError as exc:
            # the rows stay enqueued without a queue entry: the next pass past the lease finds them
            log.warning("relay: Redis refused %d job(s): %s", len(claimed) - position, exc)
            break
    return RelayReport(**counts)


def purge_done(platform: Platform, older_than: timedelta = timedelta(days=7)) -> int:
    """Done rows are kept a week for the record, then dropped."""
    with platform.transaction() as session:
        return session.execute(delete(Job).where(Job.status == JOB_DONE, Job.done_at < utcnow() - older_than)).rowcount
