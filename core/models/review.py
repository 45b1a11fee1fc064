"""Onboarding review (入网审核): every decision on an institution, instrument or listing as an audit
log (who, when, what, why), and the changes to live objects that wait for a platform admin."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base
from core.models._types import UtcDateTime, created_at_column

# the review status of instruments and listings; institutions keep theirs in Institution.status
DRAFT, SUBMITTED, NEEDS_CHANGES, APPROVED = "draft", "submitted", "needs_changes", "approved"
REVIEW_STATUSES = (DRAFT, SUBMITTED, NEEDS_CHANGES, APPROVED)


class ReviewEvent(Base):
    __tablename__ = "review_events"
    __table_args__ = (Index("ix_review_events_object", "object_type", "object_code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    object_type: Mapped[str] = mapped_column(String(16))  # institution | instrument | service
    object_code: Mapped[str] = mapped_column(String(64))
    # submitted | approved | rejected | needs_changes | revision_submitted | revision_approved |
    # revision_rejected | imported | imported_approved
    action: Mapped[str] = mapped_column(String(24))
    reason: Mapped[str | None] = mapped_column(String(500))
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # e.g. a revision's changes
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    actor_name: Mapped[str] = mapped_column(String(100))
    at: Mapped[datetime] = created_at_column()


class PendingRevision(Base):
    """A change to something live: the live version stays until a platform admin approves this."""

    __tablename__ = "pending_revisions"
    __table_args__ = (Index("ix_pending_revisions_object", "object_type", "object_code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    object_type: Mapped[str] = mapped_column(String(16))
    object_code: Mapped[str] = mapped_column(String(64))
    changes: Mapped[dict[str, Any]] = mapped_column(JSON)  # field -> {"from": live value, "to": proposed}
    status: Mapped[str] = mapped_column(String(16), default="pending")  # pending | approved | rejected
    submitted_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    submitted_by_name: Mapped[str] = mapped_column(String(100))
    submitted_at: Mapped[datetime] = created_at_column()
    decided_by_name: Mapped[str | None] = mapped_column(String(100))
    decided_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    reason: Mapped[str | None] = mapped_column(String(500))
