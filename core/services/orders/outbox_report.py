"""What the job outbox and the refunds hold, for operators: every money job can be
found and driven again from the database alone, whatever happened to Redis."""
from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from core.models import Job, Refund
from core.models._types import utcnow
from core.models.job import JOB_DONE, JOB_PENDING
from core.models.refund import REFUND_FAILED, REFUND_PROCESSING, REFUND_REQUESTED


@dataclass(frozen=True)
class OutboxSummary:
    unfinished: dict[tuple[str, str], int]  # (job name, state) -> count
    overdue: int  # due, not done
    errors: list[tuple[int, str, int, str]]  # id, name, attempts, last error
    refunds: dict[str, tuple[int, int]] = field(default_factory=dict)  # status -> (count, cents)

    def lines(self) -> list[str]:
        out = [f"jobs due and not done: {self.overdue}"]
        out += [f"  {name.rsplit('.', 1)[-1]:<28} {state:<9} {n}" for (name, state), n in sorted(self.unfinished.items())]
        out += [f"  job {i} {name.rsplit('.', 1)[-1]} after {a} tries: {err}" for i, name, a, err in self.errors]
        out += [f"refunds {status:<10} {n:>5}  {cents / 100:>12,.2f} CNY" for status, (n, cents) in sorted(self.refunds.items())]
        return out


def outbox_summary(session: Session, error_limit: int = 20) -> OutboxSummary:
    unfinished = {(name, state): n for name, state, n in session.execute(
        select(Job.name, Job.status, func.count(Job.id)).where(Job.status != JOB_DONE).group_by(Job.name, Job.status))}
    overdue = session.scalar(select(func.count(Job.id)).where(Job.status != JOB_DONE, Job.due_at <= utcnow())) or 0
    errors = [(j.id, j.name, j.attempts, j.last_error or "") for j in session.scalars(
        select(Job).where(Job.status != JOB_DONE, Job.last_error.is_not(None)).order_by(Job.id.desc()).limit(error_limit))]
    refunds = {status: (int(n), int(cents or 0)) for status, n, cents in session.execute(
        select(Refund.status, func.count(Refund.id), func.sum(Refund.amount_cents))
        .where(Refund.status.in_((REFUND_REQUESTED, REFUND_PROCESSING, REFUND_FAILED))).group_by(Refund.status))}
    return OutboxSummary(unfinished, int(overdue), errors, refunds)


def redrive(session: Session) -> int:
    """Hand out again every job whose time has come and that is not done (waiting for a retry,
    or stuck in a queue or a worker); the relay takes them on its next pass. Jobs due later
    keep their time: a deadline must not run early."""
    now = utcnow()
    return session.execute(update(Job).where(Job.status != JOB_DONE, Job.due_at <= now)
                           .values(status=JOB_PENDING, due_at=now)).rowcount
