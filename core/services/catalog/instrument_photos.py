"""The instrument's photo for the national record: one JPEG of at most 1 MB, uploaded and seen by the
institution's own staff, stored like the reports (a file under DATA_DIR/photos, its key in
instruments.photo_file)."""
from __future__ import annotations

import hashlib
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.config import Settings
from core.errors import InvalidInput, NotFound, PayloadTooLarge
from core.models import Instrument, Role, User
from core.report_storage import ReportStorage
from core.services.people.authz import require_role

PHOTO_MAX_BYTES = 1024 * 1024
# every JPEG starts with SOI (FF D8) and the first segment's marker (FF): the extension proves nothing
JPEG_MAGIC = b"\xff\xd8\xff"


def photos_dir(settings: Settings) -> Path:
    return settings.data_dir / "photos"


def own_instrument(session: Session, actor: User | None, code: str) -> Instrument:
    """The instrument if `actor` is staff of its institution; another institution's is the same 404 as none."""
    user = require_role(actor, Role.lab_staff, Role.institution_admin)
    instrument = session.scalar(select(Instrument).where(Instrument.code == code))
    if instrument is None or instrument.institution_id != user.institution_id:
        raise NotFound(f"没有仪器 {code}。", code="instrument_not_found")
    return instrument


def store_photo(session: Session, actor: User | None, code: str, data: bytes,
                storage: ReportStorage) -> tuple[Instrument, str | None]:
    """Checks first, the file last: a refused photo leaves nothing behind. Answers the instrument and the
    replaced photo's key, for the caller to delete once the new one is committed."""
    instrument = own_instrument(session, actor, code)
    if not data:
        raise InvalidInput("请选择要上传的仪器照片（JPEG 文件）。", code="file_required")
    if len(data) > PHOTO_MAX_BYTES:
        raise PayloadTooLarge(f"仪器照片不能超过 {PHOTO_MAX_BYTES // (1024 * 1024)} MB。", code="file_too_large",
                              details={"max_bytes": PHOTO_MAX_BYTES})
    if not data.startswith(JPEG_MAGIC):
        raise InvalidInput("仪器照片须为 JPEG 格式（.jpg）；这个文件不是 JPEG 图片。", code="not_a_jpeg")
    key = f"{instrument.id}/{hashlib.sha256(data).hexdigest()}.jpg"
    replaced = instrument.photo_file if instrument.photo_file != key else None
    instrument.photo_file = key
    session.flush()
    storage.put(key, data)
    return instrument, replaced


def photo_of(session: Session, actor: User | None, code: str, storage: ReportStorage) -> bytes | None:
    """The JPEG, or None when none was uploaded yet."""
    instrument = own_instrument(session, actor, code)
    if not instrument.photo_file:
        return None
    try:
        return storage.get(instrument.photo_file)
    except FileNotFoundError:
        raise NotFound("仪器照片文件已不在存储中，请重新上传。", code="photo_missing") from None
