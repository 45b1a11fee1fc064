"""A company's verification documents as uploaded: what they are is read from their first bytes (never the
name or the client's Content-Type), their size is bounded, and their stored name is made safe."""
from __future__ import annotations

import re
from dataclasses import dataclass

from core.errors import InvalidInput, PayloadTooLarge
from core.models import DocumentKind

# what the file starts with decides its type, never the name or the client's Content-Type
_SIGNATURES = ((b"\xff\xd8\xff", "image/jpeg", ".jpg"), (b"\x89PNG\r\n\x1a\n", "image/png", ".png"),
               (b"%PDF-", "application/pdf", ".pdf"))
_DOC_LABELS = {DocumentKind.licence: "营业执照", DocumentKind.authorisation: "授权书"}


@dataclass(frozen=True)
class Upload:
    filename: str
    data: bytes


def checked_document(kind: DocumentKind, upload: Upload | None, max_bytes: int) -> tuple[Upload, str, str]:
    """The upload with its content type and file extension; anything else is refused before it is stored."""
    label = _DOC_LABELS[kind]
    if upload is None or not upload.data:
        raise InvalidInput(f"请上传{label}（JPEG、PNG 图片或 PDF 文件）。", code=f"{kind.value}_required")
    if len(upload.data) > max_bytes:
        raise PayloadTooLarge(f"{label}文件不能超过 {max_bytes / (1024 * 1024):g} MB。", code="file_too_large",
                           details={"document": kind.value, "max_bytes": max_bytes})
    for magic, content_type, ext in _SIGNATURES:
        if upload.data.startswith(magic):
            return upload, content_type, ext
    raise InvalidInput(f"{label}必须是 JPEG、PNG 图片或 PDF 文件。", code="unsupported_file_type",
                       details={"document": kind.value})


def safe_name(filename: str, ext: str) -> str:
    stem = re.sub(r"[^\w.\-]+", "_", filename.replace("\\", "/").rsplit("/", 1)[-1]).strip("._")[:150]
    return (stem or "document") if stem.lower().endswith(ext) else (stem or "document") + ext
