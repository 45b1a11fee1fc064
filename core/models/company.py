"""A company as a verified party, and the users who act for it.

Innovation vouchers belong to a company, so a company is only trusted once a
platform admin has seen its business licence (营业执照) and, when the submitter
is not the legal representative, the authorisation letter (授权书)."""
from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import BigInteger, Boolean, Enum, ForeignKey, Index, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base
from core.models._types import UtcDateTime, created_at_column, updated_at_column


class CompanyStatus(str, enum.Enum):
    unverified = "unverified"  # known by its credit code only (e.g. from an old voucher application)
    pending = "pending"  # documents submitted, waiting for a platform admin
    verified = "verified"
    rejected = "rejected"


class MemberRole(str, enum.Enum):
    admin = "admin"  # approves, invites and removes members
    member = "member"


class MemberStatus(str, enum.Enum):
    pending = "pending"  # a join request (invited_by empty) or an invitation (invited_by set)
    active = "active"
    removed = "removed"


class DocumentKind(str, enum.Enum):
    licence = "licence"  # 营业执照
    authorisation = "authorisation"  # 授权书


@dataclass(frozen=True)
class StoredDocument:
    kind: DocumentKind
    filename: str
    content_type: str
    size_bytes: int
    sha256: str
    storage_key: str


class Company(Base):
    __tablename__ = "companies"

    id: Mapped[int] = mapped_column(primary_key=True)
    credit_code: Mapped[str] = mapped_column(String(18), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    legal_rep_name: Mapped[str | None] = mapped_column(String(100))
    status: Mapped[CompanyStatus] = mapped_column(
        Enum(CompanyStatus, name="company_status", native_enum=False, length=16),
        default=CompanyStatus.unverified, index=True)
    submitted_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    submitter_is_legal_rep: Mapped[bool | None] = mapped_column(Boolean)
    submitted_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    # the files themselves live in document storage under DATA_DIR/company_documents
    licence_filename: Mapped[str | None] = mapped_column(String(200))
    licence_content_type: Mapped[str | None] = mapped_column(String(64))
    licence_size_bytes: Mapped[int | None] = mapped_column(BigInteger)
    licence_sha256: Mapped[str | None] = mapped_column(String(64))
    licence_storage_key: Mapped[str | None] = mapped_column(String(200))
    authorisation_filename: Mapped[str | None] = mapped_column(String(200))
    authorisation_content_type: Mapped[str | None] = mapped_column(String(64))
    authorisation_size_bytes: Mapped[int | None] = mapped_column(BigInteger)
    authorisation_sha256: Mapped[str | None] = mapped_column(String(64))
    authorisation_storage_key: Mapped[str | None] = mapped_column(String(200))
    reviewed_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    reviewed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    rejection_reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = created_at_column()
    updated_at: Mapped[datetime] = updated_at_column()

    def document(self, kind: DocumentKind) -> StoredDocument | None:
        p = kind.value
        key = getattr(self, f"{p}_storage_key")
        if key is None:
            return None
        return StoredDocument(kind, getattr(self, f"{p}_filename"), getattr(self, f"{p}_content_type"),
                              getattr(self, f"{p}_size_bytes"), getattr(self, f"{p}_sha256"), key)

    def set_document(self, kind: DocumentKind, doc: StoredDocument | None) -> None:
        p = kind.value
        for field in ("filename", "content_type", "size_bytes", "sha256", "storage_key"):
            setattr(self, f"{p}_{field}", None if doc is None else getattr(doc, field))


class CompanyMember(Base):
    """One user's place in one company. Rows are never deleted: a removal is a status,
    so the history of who could spend the company's vouchers stays."""

    __tablename__ = "company_members"
    __table_args__ = (
        # a user belongs to at most one company at a time (removed rows do not count)
        Index("uq_company_members_current_user", "user_id", unique=True,
              sqlite_where=text("status <> 'removed'"), postgresql_where=text("status <> 'removed'")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    company_id: Mapped[int] = mapped_column(ForeignKey("companies.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    role: Mapped[MemberRole] = mapped_column(
        Enum(MemberRole, name="company_member_role", native_enum=False, length=16), default=MemberRole.member)
    status: Mapped[MemberStatus] = mapped_column(
        Enum(MemberStatus, name="company_member_status", native_enum=False, length=16), default=MemberStatus.pending)
    invited_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    approved_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    removed_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    activated_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    removed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    created_at: Mapped[datetime] = created_at_column()
    updated_at: Mapped[datetime] = updated_at_column()

    @property
    def is_invitation(self) -> bool:
        return self.status == MemberStatus.pending and self.invited_by is not None
