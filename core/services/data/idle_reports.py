"""Reading, publishing and exporting stored idle reports: the whole report for platform admins, an
institution's own part for its people, notifications when a report comes out, XLSX and PDF files."""
from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.errors import NotFound
from core.models import IdleReport, Institution, Role, User
from core.services.data.documents import Sheet, pdf, xlsx
from core.services.data.idle_report import FLAG_LABELS, SENSOR_LABELS, totals_of
from core.services.people.authz import require_role
from core.services.people.notifications import notify, shown_time

READERS = (Role.platform_admin, Role.institution_admin, Role.lab_staff)
# the files a report comes as, by extension
MEDIA_TYPES = {"xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "pdf": "application/pdf"}


def reports(session: Session, limit: int = 50) -> list[IdleReport]:
    """Stored reports, newest period and version first."""
    return list(session.scalars(select(IdleReport).order_by(
        IdleReport.period_to.desc(), IdleReport.period_from.desc(), IdleReport.version.desc()).limit(limit)))


def find_report(session: Session, period_from: str, period_to: str, version: int | None = None) -> IdleReport:
    query = select(IdleReport).where(IdleReport.period_from == period_from, IdleReport.period_to == period_to)
    if version is not None:
        query = query.where(IdleReport.version == version)
    report = session.scalar(query.order_by(IdleReport.version.desc()).limit(1))
    if report is None:
        raise NotFound(f"没有 {period_from} 至 {period_to} 的闲置仪器通报{f'（第 {version} 版）' if version else ''}。",
                       code="idle_report_not_found")
    return report


def view_of(session: Session, actor: User | None, report: IdleReport) -> dict[str, Any]:
    """The report as `actor` may read it: all of it for a platform admin; an institution's people get
    their instruments and totals, and the platform-wide totals for comparison."""
    user = require_role(actor, *READERS)
    body = report.body
    rows, totals = body["instruments"], body["totals"]
    if user.role != Role.platform_admin:
        own = session.get(Institution, user.institution_id) if user.institution_id else None
        code = own.code if own else None
        rows = [r for r in rows if r["institution"]["code"] == code]
        totals = {**totals_of(rows), "platform": {k: body["totals"][k] for k in ("listed", "idle", "idle_value_cny")}}
    return {"period": {"from": report.period_from, "to": report.period_to}, "version": report.version,
            "generated_at": report.created_at.isoformat(), "generated_by": report.generated_by,
            "thresholds": report.thresholds, "instruments": rows, "totals": totals,
            "previous": body.get("previous") if user.role == Role.platform_admin else None}


def notify_institutions(session: Session, report: IdleReport, tz: str) -> int:
    """Tell each listed institution's admins what the report says of them. Returns the people told."""
    idle: dict[str, tuple[int, float]] = {}
    for row in report.body["instruments"]:
        count, value = idle.get(row["institution"]["code"], (0, 0.0))
        idle[row["institution"]["code"]] = (count + row["idle"], value + (row["value_cny"] if row["idle"] else 0.0))
    told = 0
    for institution in session.scalars(select(Institution).where(Institution.code.in_(idle))):
        count, value = idle[institution.code]
        body = (f"{report.period_from} 至 {report.period_to} 闲置仪器通报（第 {report.version} 版，"
                f"{shown_time(report.created_at, tz)} 生成）：贵单位 {count} 台仪器列为闲置，原值合计 "
                f"{value / 10_000:.2f} 万元。请在工作台“闲置通报”查看明细。")
        for person in session.scalars(select(User).where(
                User.institution_id == institution.id, User.active.is_(True), User.role == Role.institution_admin)):
            notify(session, person.id, "idle_report", "闲置仪器通报已发布", body)
            told += 1
    return told


def _facts(view: dict[str, Any], tz: str, generated_at: Any) -> list[str]:
    t = view["thresholds"]
    return [f"报告期：{view['period']['from']} 至 {view['period']['to']}（第 {view['version']} 版）",
            f"生成时间：{shown_time(generated_at, tz)}（{tz}），生成者：{view['generated_by']}",
            f"列入范围：原值 ≥ {t['min_value_cny'] / 10_000:g} 万元；闲置：有效机时低于定额机时的 "
            f"{t['below_quota_share']:.0%}、零机时、或启用逾 {t['unused_after_days']} 天从未使用；"
            f"传感器覆盖低于 {t['sensor_silent_below_share']:.0%} 记为长时间无数据",
            "有效机时来自电流传感器；传感器未覆盖的部分采用单位自报机时（标“自报”）。"]


def sheets_of(view: dict[str, Any]) -> list[Sheet]:
    rows = [[r["institution"]["city"], r["institution"]["name"], r["code"], r["name"], round(r["value_cny"] / 10_000, 2),
             r["effective_hours"], r["quota_hours"], "" if r["utilisation"] is None else f"{r['utilisation']:.1%}",
             r["external_hours"], "自报" if r["self_reported"] else "传感器", SENSOR_LABELS[r["sensor"]],
             "、".join(FLAG_LABELS[f] for f in r["flags"])] for r in view["instruments"]]
    totals = view["totals"]
    return [
        Sheet("仪器明细", ["城市", "单位", "仪器编号", "仪器名称", "原值（万元）", "有效机时", "定额机时", "利用率",
                          "对外服务机时", "机时来源", "传感器", "标记"], rows, [5, 10, 8, 10, 5, 5, 5, 4, 5, 4, 5, 12]),
        Sheet("按单位汇总", ["单位", "城市", "列入台数", "闲置台数", "闲置原值（万元）"],
              [[g["name"], g["city"], g["listed"], g["idle"], round(g["idle_value_cny"] / 10_000, 2)]
               for g in totals["by_institution"]]),
        Sheet("按城市汇总", ["城市", "列入台数", "闲置台数", "闲置原值（万元）"],
              [[g["city"], g["listed"], g["idle"], round(g["idle_value_cny"] / 10_000, 2)] for g in totals["by_city"]]),
    ]


def report_file(report: IdleReport, view: dict[str, Any], kind: str, tz: str) -> bytes:
    """The report as `kind` ("xlsx" or "pdf"), with its date, period and thresholds printed on it."""
    title = f"闲置仪器通报 {report.period_from} 至 {report.period_to}"
    facts = _facts(view, tz, report.created_at)
    return (xlsx if kind == "xlsx" else pdf)(title, facts, sheets_of(view))
