"""Scheduled reports: the idle-instrument report on the first day of each odd month, for the two
months just ended. The sweep defers the job once the local hour comes; the job itself does nothing
if the period already has a report, so a job run twice (a lost worker) publishes once."""
from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.config import Settings
from core.models import IdleReport, Job
from core.models.job import JOB_DONE
from core.queue import defer
from core.services.data import idle_report, idle_reports
from workers.runtime import current

IDLE_REPORT_JOB = "workers.report_jobs.generate_idle_report"


def _has_report(session: Session, period: tuple[str, str]) -> bool:
    return session.scalar(select(IdleReport.id).where(
        IdleReport.period_from == period[0], IdleReport.period_to == period[1]).limit(1)) is not None


def schedule_idle_report(session: Session, settings: Settings, now: datetime) -> int:
    """Called by the minute sweep: defer the period's report once, from IDLE_REPORT_HOUR on the day.
    Returns 1 when it deferred the job."""
    local = now.astimezone(ZoneInfo(settings.orders.timezone))
    period = idle_report.two_months_ended(local.date())
    if period is None or local.hour < settings.data.idle_report_hour or _has_report(session, period):
        return 0
    # JSON columns do not compare alike on every database: the few open report jobs are read and compared here
    if any(list(job.args) == list(period) for job in session.scalars(
            select(Job).where(Job.name == IDLE_REPORT_JOB, Job.status != JOB_DONE))):
        return 0
    defer(session, IDLE_REPORT_JOB, *period)
    return 1


def generate_idle_report(period_from: str, period_to: str) -> str:
    platform = current().platform
    tz = platform.settings.orders.timezone
    with platform.transaction() as session:
        if _has_report(session, (period_from, period_to)):
            return "already published"
        report = idle_report.generate(session, period_from, period_to, platform.settings.data, tz, idle_report.SCHEDULED_BY)
        told = idle_reports.notify_institutions(session, report, tz)
    return f"idle report {period_from}..{period_to}: {len(report.body['instruments'])} instruments, {told} people told"
