"""An institution's self-report (自评报告): its own figures for the year and PDF attachments, and each
figure beside the one the platform measured, with a flag where they differ by more than the round's
gap threshold (EVALUATION_GAP_THRESHOLD, 20 % by default)."""
from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any, Mapping, Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.config import Settings
from core.errors import BusinessRuleViolation, InvalidInput, NotFound, PayloadTooLarge
from core.models import EvaluationSelfReport, Role, User
from core.report_storage import ReportStorage
from core.services.data import evaluation_input as check
from core.services.data.evaluation_indicators import Figures
from core.services.data.evaluation_rounds import load_entry, load_round
from core.services.people.authz import require_role

SUMMARY_MAX = 5000
MAX_HOURS = 10_000_000  # far beyond any institution's year (8,784 h x instruments)


def attachments_dir(settings: Settings) -> Path:
    """Where self-report PDFs are kept, beside the order reports under DATA_DIR."""
    return settings.data_dir / "evaluation"


def _safe_name(filename: str) -> str:
    stem = re.sub(r"[^\w.\-]+", "_", filename.rsplit("/", 1)[-1].rsplit("\\", 1)[-1]).strip("._") or "attachment"
    return (stem if stem.lower().endswith(".pdf") else stem + ".pdf")[-120:]


def _check_files(files: Sequence[tuple[str, bytes]], already: int, settings: Settings) -> None:
    rules = settings.evaluation
    if already + len(files) > rules.attachments_per_report:
        raise InvalidInput(f"附件最多 {rules.attachments_per_report} 个。", code="too_many_attachments")
    for name, data in files:
        if not data.startswith(b"%PDF-"):
            raise InvalidInput(f"附件“{name}”不是 PDF 文件，请上传 PDF 格式的材料。", code="not_a_pdf")
        if len(data) > rules.attachment_max_bytes:
            raise PayloadTooLarge(f"附件“{name}”超过 {rules.attachment_max_bytes / (1024 * 1024):g} MB。",
                                  code="file_too_large", details={"max_bytes": rules.attachment_max_bytes})


def submit_self_report(session: Session, actor: User, round_id: int, figures: Mapping[str, Any], summary: Any,
                       files: Sequence[tuple[str, bytes]], storage: ReportStorage, settings: Settings,
                       today: date) -> EvaluationSelfReport:
    """The institution admin's report for their own institution, until the self-report deadline; sent
    again it replaces the figures and adds the new attachments. Checks come first, files are written last."""
    require_role(actor, Role.institution_admin)
    round_ = load_round(session, round_id)
    if actor.institution_id is None:
        raise NotFound("该机构不在这一轮评价中。", code="entry_not_found")
    load_entry(session, round_id, actor.institution_id)
    if round_.status != "open" or today > round_.self_report_due:
        raise BusinessRuleViolation(f"自评报告已于 {round_.self_report_due.isoformat()} 截止，不能再提交或修改。",
                                    code="self_report_closed")
    values = {
        "effective_hours": check.number(figures.get("effective_hours"), "有效工作机时", maximum=MAX_HOURS),
        "external_hours": check.number(figures.get("external_hours"), "对外服务机时", maximum=MAX_HOURS),
        "instruments_open": check.whole(figures.get("instruments_open"), "开放共享仪器台数", maximum=1_000_000),
        "external_income_fen": check.money_fen(figures.get("external_income"), "对外服务收入（元）"),
    }
    text = check.text(summary, "自评说明", limit=SUMMARY_MAX, required=False)
    report = session.scalar(select(EvaluationSelfReport).where(
        EvaluationSelfReport.round_id == round_id, EvaluationSelfReport.institution_id == actor.institution_id)
        .with_for_update())
    _check_files(files, len(report.attachments) if report else 0, settings)
    stored = []
    for name, data in files:
        digest = hashlib.sha256(data).hexdigest()
        stored.append((f"{round_id}/{actor.institution_id}/{digest}.pdf", data,
                       {"name": _safe_name(name), "key": f"{round_id}/{actor.institution_id}/{digest}.pdf",
                        "size": len(data), "sha256": digest}))
    if report is None:
        report = EvaluationSelfReport(round_id=round_id, institution_id=actor.institution_id, attachments=[])
        session.add(report)
    for field, value in values.items():
        setattr(report, field, value)
    report.summary, report.submitted_by_id, report.submitted_by_name = text, actor.id, actor.display_name
    known = {a["sha256"] for a in report.attachments}
    report.attachments = list(report.attachments) + [meta for _, _, meta in stored if meta["sha256"] not in known]
    session.flush()
    for key, data, _ in stored:
        storage.put(key, data)
    return report


def self_report_of(session: Session, round_id: int, institution_id: int) -> EvaluationSelfReport | None:
    return session.scalar(select(EvaluationSelfReport).where(EvaluationSelfReport.round_id == round_id,
                                                             EvaluationSelfReport.institution_id == institution_id))


def attachment(session: Session, round_id: int, institution_id: int, index: int) -> dict[str, Any]:
    report = self_report_of(session, round_id, institution_id)
    if report is None or not 0 <= index < len(report.attachments):
        raise NotFound("没有这个附件。", code="attachment_not_found")
    return report.attachments[index]  # type: ignore[no-any-return]


@dataclass(frozen=True)
class Gap:
    label: str
    unit: str
    reported: float
    measured: float
    gap: float | None  # (reported - measured) / measured; None when the platform measured nothing
    flagged: bool

    @property
    def gap_text(self) -> str:
        if self.gap is None:
            return "平台无数据" if self.reported else "—"
        return f"{100 * self.gap:+.1f}%"


def gaps(report: EvaluationSelfReport | None, figures: Figures, threshold: float) -> list[Gap]:
    """Each self-reported figure beside the measured one; flagged over the threshold (a figure the platform
    did not measure at all is flagged when the institution reports one)."""
    if report is None:
        return []
    pairs = [("有效工作机时", "小时", report.effective_hours, figures.effective_hours),
             ("对外服务机时", "小时", report.external_hours, figures.external_hours),
             ("开放共享仪器", "台", float(report.instruments_open), float(figures.instruments_open)),
             ("对外服务收入", "元", report.external_income_fen / 100, figures.income_external_fen / 100)]
    found = []
    for label, unit, reported, measured in pairs:
        gap = (reported - measured) / measured if measured else None
        flagged = abs(gap) > threshold if gap is not None else reported > 0
        found.append(Gap(label, unit, reported, measured, gap, flagged))
    return found
