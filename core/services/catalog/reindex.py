"""A full rebuild of the search index started by an admin and run by a worker (workers/reindex.py).

The job outbox is the record of whether a rebuild is under way (an unfinished row of the job);
Redis only carries its progress for the page that watches it, so losing Redis loses a progress
bar, never a rebuild."""
from __future__ import annotations

import json
import time
import uuid
from dataclasses import asdict, dataclass
from datetime import datetime, timezone

import redis
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.errors import Conflict
from core.models import IndexChange, Job, Role, User
from core.models.job import JOB_DONE
from core.queue import defer
from core.services.people.authz import require_role

REINDEX_JOB = "workers.reindex.rebuild_search_index"
PROGRESS_KEY = "reindex:progress"
PROGRESS_SECONDS = 7 * 24 * 3600
# what the stages are called on the page
STAGES = {"queued": "排队中，等待后台任务", "snapshot": "读取目录", "encoding": "编码服务项目",
          "publishing": "发布新版本", "done": "完成", "failed": "出错，稍后自动重试"}


@dataclass(frozen=True)
class ReindexProgress:
    run: str
    stage: str
    done: int = 0
    total: int = 0
    version: str | None = None
    error: str | None = None
    updated_at: float = 0.0

    @property
    def percent(self) -> int:
        if self.stage == "done":
            return 100
        return int(100 * self.done / self.total) if self.total else 0

    @property
    def label(self) -> str:
        return STAGES.get(self.stage, self.stage)

    @property
    def updated(self) -> datetime | None:
        return datetime.fromtimestamp(self.updated_at, timezone.utc) if self.updated_at else None


@dataclass(frozen=True)
class ReindexStatus:
    pending_run: str | None  # the run an unfinished job row is doing, if any
    progress: ReindexProgress | None

    @property
    def running(self) -> bool:
        return self.pending_run is not None

    @property
    def shown(self) -> ReindexProgress | None:
        """What the page shows: the pending run's progress (queued until its job writes some),
        else how the last run ended."""
        if self.pending_run and (self.progress is None or self.progress.run != self.pending_run):
            return ReindexProgress(self.pending_run, "queued")
        return self.progress


def _pending_run(session: Session) -> str | None:
    args = session.scalar(select(Job.args).where(Job.name == REINDEX_JOB, Job.status != JOB_DONE)
                          .order_by(Job.id.desc()).limit(1))
    return str(args[0]) if args else None


def read_progress(conn: redis.Redis) -> ReindexProgress | None:
    raw = conn.get(PROGRESS_KEY)
    if not raw:
        return None
    try:
        return ReindexProgress(**json.loads(raw))
    except (ValueError, TypeError):
        return None  # written by another version of this code: as if there were none


def write_progress(conn: redis.Redis, progress: ReindexProgress) -> None:
    data = asdict(progress) | {"updated_at": time.time()}
    conn.set(PROGRESS_KEY, json.dumps(data, ensure_ascii=False), ex=PROGRESS_SECONDS)


def reindex_status(session: Session, conn: redis.Redis) -> ReindexStatus:
    try:
        progress = read_progress(conn)
    except redis.RedisError:
        progress = None  # without Redis the page still knows from the outbox whether a rebuild runs
    return ReindexStatus(_pending_run(session), progress)


def _claim(conn: redis.Redis) -> bool:
    try:
        return bool(conn.set("reindex:claim", "1", nx=True, ex=5))
    except redis.RedisError:
        return True  # the claim only narrows a race the outbox row already guards on one database


def start_reindex(session: Session, conn: redis.Redis, actor: User) -> str:
    """Defer a full rebuild (handed to a worker once the caller commits); one at a time."""
    require_role(actor, Role.platform_admin)
    running = _pending_run(session)
    # the row is the truth on one database; the short claim covers two admins clicking at once on PostgreSQL
    if running is not None or not _claim(conn):
        progress = reindex_status(session, conn).progress
        done = f"（已完成 {progress.done}/{progress.total}）" if progress and progress.run == running and progress.total else ""
        raise Conflict(f"已有一次索引重建正在进行{done}，请等它完成后再试。", code="reindex_running")
    run = uuid.uuid4().hex[:12]
    defer(session, REINDEX_JOB, run)
    return run


@dataclass(frozen=True)
class Backlog:
    """Listing changes committed but not yet in the index (the index outbox)."""
    changes: int
    services: int
    oldest: datetime | None
    sample: list[str]


def index_backlog(session: Session, sample: int = 8) -> Backlog:
    changes, services, oldest = session.execute(
        select(func.count(IndexChange.id), func.count(IndexChange.service_code.distinct()),
               func.min(IndexChange.created_at))).one()
    codes = list(session.scalars(select(IndexChange.service_code).distinct().order_by(IndexChange.service_code)
                                 .limit(sample)))
    return Backlog(int(changes or 0), int(services or 0), oldest, codes)
