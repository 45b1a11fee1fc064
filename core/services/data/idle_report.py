"""The idle-instrument report (闲置仪器通报), every two months.

For each instrument worth at least IDLE_MIN_VALUE_CNY it lists the period's 有效机时 against the
pro-rated 定额 and these flags (docs/reports.md defines each):

- below_half_quota: 有效机时 under IDLE_BELOW_QUOTA_SHARE of 定额;
- zero_hours: no 有效机时 at all;
- unused_over_a_year: in service longer than IDLE_UNUSED_AFTER_DAYS and never used (no 有效机时 in
  any stored month, no order ever);
- sensor_silent / sensor_missing: its sensor saw less than SENSOR_SILENT_BELOW_SHARE of the period,
  or nothing at all (its hours are then the institution's own, 自报, or unknown);
- not_shared: not open to outside users.

The first three make an instrument idle; the others are for the institution to act on. Only
instruments in the network are listed (approved in review, of an approved or suspended institution). A report is
stored as an immutable snapshot (IdleReport); generating the same period again adds a version.
"""
from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any, Sequence

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.data_rules import DataRules
from core.errors import BusinessRuleViolation, InvalidInput
from core.models import IdleReport, Institution, Instrument, InstrumentMonth, OnboardingStatus, Order
from core.models.review import APPROVED
from core.models._types import utcnow
from core.services.catalog.classification import label
from core.services.data.monthly_hours import months_of, refresh_months
from core.services.usage.frozen_months import freeze_month
from core.services.usage.hours import parse_month
from core.services.usage.month_totals import month_bounds, months_totals

IDLE_FLAGS = ("below_half_quota", "zero_hours", "unused_over_a_year")
FLAG_LABELS = {
    "below_half_quota": "低于定额机时一半", "zero_hours": "零机时", "unused_over_a_year": "启用逾一年从未使用",
    "sensor_silent": "传感器长时间无数据", "sensor_missing": "未接入传感器", "not_shared": "未对外开放共享",
}
SENSOR_LABELS = {"ok": "正常", "silent": "长时间无数据", "none": "未接入"}
SCHEDULED_BY = "定时任务"
# instruments in the network (入网): a draft or an institution still under review is not reported on
ONBOARDED = (OnboardingStatus.approved, OnboardingStatus.suspended)


def check_period(period_from: str, period_to: str, tz: str, now: datetime) -> list[str]:
    """The months of a period that has ended, or a Chinese refusal."""
    for value in (period_from, period_to):
        parse_month(value)  # raises InvalidInput for a malformed month
    months = months_of(period_from, period_to)
    if not months:
        raise InvalidInput("起始月份不能晚于结束月份。", code="invalid_period",
                           details={"from": period_from, "to": period_to})
    if len(months) > 24:
        raise InvalidInput("报告期最长 24 个月。", code="invalid_period", details={"months": len(months)})
    if month_bounds(period_to, tz)[1] > now:
        raise BusinessRuleViolation(f"{period_to} 尚未结束，不能生成该期报告。", code="period_not_over",
                                    details={"to": period_to})
    return months


def thresholds_of(rules: DataRules) -> dict[str, Any]:
    return {"min_value_cny": rules.idle_min_value_cny, "below_quota_share": rules.idle_below_quota_share,
            "unused_after_days": rules.idle_unused_after_days, "sensor_silent_below_share": rules.sensor_silent_below_share}


def _ever_used(session: Session, ids: Sequence[int]) -> set[int]:
    used = set(session.scalars(select(InstrumentMonth.instrument_id).where(
        InstrumentMonth.instrument_id.in_(ids), InstrumentMonth.effective_hours > 0).distinct()))
    return used | set(session.scalars(select(Order.instrument_id).where(Order.instrument_id.in_(ids)).distinct()))


def instrument_rows(session: Session, months: list[str], rules: DataRules, period_end: date) -> list[dict[str, Any]]:
    """One row per listed instrument with its period figures and flags, most idle value first."""
    m = InstrumentMonth
    sums = select(m.instrument_id, func.sum(m.effective_hours), func.sum(m.quota_hours), func.sum(m.external_hours),
                  func.sum(m.on_hours + m.standby_hours + m.off_hours), func.sum(m.offline_hours),
                  func.sum(m.on_hours + m.standby_hours + m.off_hours + m.offline_hours + m.unknown_hours),
                  func.sum(func.coalesce(m.self_reported_hours, 0.0)), func.count(m.self_reported_hours)
                  ).where(m.month.in_(months)).group_by(m.instrument_id).subquery()
    found = session.execute(
        select(Instrument, Institution, sums).join(Institution, Institution.id == Instrument.institution_id)
        .join(sums, sums.c.instrument_id == Instrument.id)
        .where(Instrument.value_cny >= rules.idle_min_value_cny, Instrument.review_status == APPROVED,
               Institution.status.in_(ONBOARDED)).order_by(Instrument.code)).all()
    candidates = [i.id for i, *_ in found]
    used: set[int] = set()
    for start in range(0, len(candidates), 500):
        used |= _ever_used(session, candidates[start:start + 500])
    rows = []
    for instrument, institution, _, effective, quota, external, observed, offline, period_h, _, reports in found:
        effective, quota, external = float(effective or 0), float(quota or 0), float(external or 0)
        seen = float(observed or 0) / float(period_h) if period_h else 0.0
        sensor = "none" if (observed or 0) + (offline or 0) <= 0 else ("silent" if seen < rules.sensor_silent_below_share else "ok")
        started = instrument.in_service_date or instrument.purchase_date
        flags = []
        if quota > 0 and effective < rules.idle_below_quota_share * quota:
            flags.append("below_half_quota")
        if effective <= 0:
            flags.append("zero_hours")
        if (started is not None and (period_end - started).days > rules.idle_unused_after_days
                and instrument.id not in used):
            flags.append("unused_over_a_year")
        flags += {"silent": ["sensor_silent"], "none": ["sensor_missing"]}.get(sensor, [])
        if not instrument.open_for_sharing or instrument.share_mode in ("none", "internal"):
            flags.append("not_shared")
        rows.append({
            "code": instrument.code, "platform_code": instrument.platform_code, "name": instrument.name,
            "classification": label(instrument.classification_code),
            "institution": {"code": institution.code, "name": institution.name,
                            "city": instrument.city or institution.city or ""},
            "value_cny": float(instrument.value_cny or 0), "effective_hours": round(effective, 2),
            "quota_hours": round(quota, 2), "utilisation": round(effective / quota, 4) if quota > 0 else None,
            "external_hours": round(external, 2),
            "sharing_rate": round(external / effective, 4) if effective > 0 else None,
            "self_reported": bool(reports), "sensor": sensor, "sensor_seen_share": round(seen, 4),
            "idle": any(f in IDLE_FLAGS for f in flags), "flags": flags,
        })
    rows.sort(key=lambda r: (not r["idle"], -r["value_cny"], r["code"]))
    return rows


def _group(rows: list[dict[str, Any]], key: Any) -> list[dict[str, Any]]:
    groups: dict[tuple[str, ...], dict[str, Any]] = {}
    for row in rows:
        k = key(row)
        g = groups.setdefault(k, {"listed": 0, "idle": 0, "idle_value_cny": 0.0, "value_cny": 0.0})
        g["listed"] += 1
        g["value_cny"] += row["value_cny"]
        if row["idle"]:
            g["idle"] += 1
            g["idle_value_cny"] += row["value_cny"]
    return [{"key": list(k), **{n: round(v, 2) if isinstance(v, float) else v for n, v in g.items()}}
            for k, g in sorted(groups.items(), key=lambda kv: (-kv[1]["idle_value_cny"], kv[0]))]


def totals_of(rows: list[dict[str, Any]]) -> dict[str, Any]:
    idle = [r for r in rows if r["idle"]]
    return {
        "listed": len(rows), "idle": len(idle), "idle_value_cny": round(sum(r["value_cny"] for r in idle), 2),
        "by_flag": {flag: sum(flag in r["flags"] for r in rows) for flag in FLAG_LABELS},
        "by_institution": [{"institution": g["key"][0], "name": g["key"][1], "city": g["key"][2],
                            **{k: v for k, v in g.items() if k != "key"}}
                           for g in _group(rows, lambda r: (r["institution"]["code"], r["institution"]["name"],
                                                            r["institution"]["city"]))],
        "by_city": [{"city": g["key"][0], **{k: v for k, v in g.items() if k != "key"}}
                    for g in _group(rows, lambda r: (r["institution"]["city"],))],
    }


def previous_report(session: Session, period_from: str) -> IdleReport | None:
    """The latest version of the last report whose period ended before this one starts."""
    return session.scalar(select(IdleReport).where(IdleReport.period_to < period_from)
                          .order_by(IdleReport.period_to.desc(), IdleReport.version.desc()).limit(1))


def comparison(rows: list[dict[str, Any]], totals: dict[str, Any], before: IdleReport | None) -> dict[str, Any] | None:
    """What changed against the previous report: the idle count and value, and which instruments
    became idle or stopped being idle."""
    if before is None:
        return None
    old = {r["code"]: r for r in before.body["instruments"]}
    now_idle = {r["code"] for r in rows if r["idle"]}
    was_idle = {c for c, r in old.items() if r["idle"]}
    old_cities = {g["city"]: g for g in before.body["totals"]["by_city"]}
    return {
        "period": {"from": before.period_from, "to": before.period_to}, "version": before.version,
        "idle_change": totals["idle"] - before.body["totals"]["idle"],
        "idle_value_change_cny": round(totals["idle_value_cny"] - before.body["totals"]["idle_value_cny"], 2),
        "newly_idle": sorted(now_idle - was_idle), "no_longer_idle": sorted(was_idle - now_idle),
        "by_city": {g["city"]: g["idle"] - old_cities.get(g["city"], {}).get("idle", 0) for g in totals["by_city"]},
    }


def generate(session: Session, period_from: str, period_to: str, rules: DataRules, tz: str, generated_by: str,
             now: datetime | None = None) -> IdleReport:
    """Compute the period's monthly figures, freeze its months, and store the report as a new version."""
    now = now or utcnow()
    months = check_period(period_from, period_to, tz, now)
    totals = months_totals(session, months, tz, now)
    refresh_months(session, months, rules, tz, now, totals)
    label_of_period = f"闲置仪器通报 {period_from} 至 {period_to}"
    for month in months:
        freeze_month(session, month, tz, label_of_period, now, totals[month])
    last = month_bounds(period_to, tz)[1] - timedelta(seconds=1)
    rows = instrument_rows(session, months, rules, last.date())
    totals = totals_of(rows)
    before = previous_report(session, period_from)
    version = (session.scalar(select(func.max(IdleReport.version)).where(
        IdleReport.period_from == period_from, IdleReport.period_to == period_to)) or 0) + 1
    report = IdleReport(period_from=period_from, period_to=period_to, version=version, generated_by=generated_by[:100],
                        thresholds=thresholds_of(rules), created_at=now,
                        body={"instruments": rows, "totals": totals, "previous": comparison(rows, totals, before)})
    session.add(report)
    session.flush()
    return report


def two_months_ended(today: date) -> tuple[str, str] | None:
    """On the first day of an odd month, the two months just ended (Nov–Dec on 1 January)."""
    if today.day != 1 or today.month % 2 == 0:
        return None
    end = today - timedelta(days=1)
    start = (end.replace(day=1) - timedelta(days=1)).replace(day=1)
    return f"{start:%Y-%m}", f"{end:%Y-%m}"
