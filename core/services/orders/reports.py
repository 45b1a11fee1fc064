"""Report upload (PDF only, size-limited, checksummed) and expiring download links."""
from __future__ import annotations

import hashlib
import re

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy import select
from sqlalchemy.orm import Session

from core.config import Settings
from core.errors import Forbidden, InvalidInput, NotFound, PayloadTooLarge
from core.models import Order, Report, User
from core.report_storage import ReportStorage
from core.services.orders import lifecycle as orders

_SALT = "report-download"


def _safe_name(filename: str) -> str:
    stem = re.sub(r"[^\w.\-]+", "_", filename.rsplit("/", 1)[-1]).strip("._") or "report"
    return stem if stem.lower().endswith(".pdf") else stem + ".pdf"


def upload_report(session: Session, actor: User, number: str, filename: str, data: bytes, storage: ReportStorage,
                  settings: Settings) -> Report:
    """Checks come first, the file is written last: a refused upload leaves nothing behind."""
    order = orders.load_order(session, actor, number, lock=True)
    if not data.startswith(b"%PDF-"):
        raise InvalidInput("报告须为 PDF 文件。", code="not_a_pdf")
    if len(data) > settings.orders.report_max_bytes:
        raise PayloadTooLarge(f"报告文件超过 {settings.orders.report_max_bytes // (1024 * 1024)} MB。",
                           code="file_too_large", details={"max_bytes": settings.orders.report_max_bytes})
    orders.report_issued(session, actor, order, settings)
    digest = hashlib.sha256(data).hexdigest()
    report = Report(order_id=order.id, filename=_safe_name(filename), size_bytes=len(data), sha256=digest,
                    storage_key=f"{order.number}/{digest}.pdf", uploaded_by=actor.id)
    session.add(report)
    session.flush()
    storage.put(report.storage_key, data)
    return report


def report_of(session: Session, actor: User, number: str) -> tuple[Order, Report]:
    order = orders.load_order(session, actor, number)
    report = session.scalar(select(Report).where(Report.order_id == order.id))
    if report is None:
        raise NotFound("该订单还没有上传报告。", code="report_not_found")
    return order, report


def download_token(settings: Settings, report: Report, user: User) -> str:
    return URLSafeTimedSerializer(settings.secret_key, salt=_SALT).dumps({"r": report.id, "u": user.id})


def report_for_token(session: Session, settings: Settings, token: str) -> Report:
    try:
        data = URLSafeTimedSerializer(settings.secret_key, salt=_SALT).loads(
            token, max_age=settings.orders.report_link_seconds)
    except SignatureExpired:
        raise Forbidden("下载链接已过期，请重新获取。", code="link_expired") from None
    except BadSignature:
        raise Forbidden("下载链接无效。", code="link_invalid") from None
    report = session.get(Report, data["r"])
    if report is None:
        raise NotFound("报告不存在。")
    return report
