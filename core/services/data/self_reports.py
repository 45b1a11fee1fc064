"""Hours an institution reports itself (自报) for an instrument and a month its sensor did not cover:
entered by the institution's admin, kept with who and when, and used only for the part of the month
the sensor did not see (monthly_hours.effective_hours)."""
from __future__ import annotations

import math
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.errors import BusinessRuleViolation, InvalidInput, NotFound
from core.models import Instrument, Role, SelfReportedHours, User
from core.models._types import utcnow
from core.services.people.authz import require_role
from core.services.usage.month_totals import month_bounds


def report_hours(session: Session, actor: User | None, instrument_code: str, month: str, hours: object, note: str,
                 tz: str, now: datetime | None = None) -> SelfReportedHours:
    """Record (or replace) the institution's figure for one instrument's month."""
    user = require_role(actor, Role.institution_admin)
    instrument = session.scalar(select(Instrument).where(Instrument.code == instrument_code))
    if instrument is None or instrument.institution_id != user.institution_id:
        raise NotFound(f"没有仪器 {instrument_code}。", code="instrument_not_found")
    lo, hi = month_bounds(month, tz)
    if hi > (now or utcnow()):
        raise BusinessRuleViolation(f"{month} 尚未结束，月底后再填报。", code="month_not_over")
    try:  # a form's text or a number; True is not an amount
        value = math.nan if isinstance(hours, bool) else float(hours)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        value = math.nan
    limit = (hi - lo).total_seconds() / 3600
    if not math.isfinite(value) or not 0 <= value <= limit:
        raise InvalidInput(f"机时须为 0 到 {limit:g} 之间的数字（{month} 共 {limit:g} 小时）。", code="invalid_hours",
                           details={"hours": str(hours)[:32]})
    row = session.scalar(select(SelfReportedHours).where(SelfReportedHours.instrument_id == instrument.id,
                                                         SelfReportedHours.month == month))
    if row is None:
        row = SelfReportedHours(instrument_id=instrument.id, month=month)
        session.add(row)
    row.hours, row.note = round(value, 2), note.strip()[:200]
    row.reported_by_id, row.reported_by_name, row.created_at = user.id, user.display_name, now or utcnow()
    session.flush()
    return row


def reports_of(session: Session, institution_id: int, limit: int = 24) -> list[tuple[SelfReportedHours, Instrument]]:
    return list(session.execute(
        select(SelfReportedHours, Instrument).join(Instrument, Instrument.id == SelfReportedHours.instrument_id)
        .where(Instrument.institution_id == institution_id)
        .order_by(SelfReportedHours.month.desc(), Instrument.code).limit(limit)).tuples())
