"""What the people of an evaluation round write: an expert's score and comment per expert indicator,
an institution's self-report (its own figures and PDF attachments), and an institution's appeal."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Float, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base
from core.models._types import UtcDateTime, created_at_column, updated_at_column


class EvaluationScore(Base):
    __tablename__ = "evaluation_scores"
    __table_args__ = (UniqueConstraint("assignment_id", "indicator", name="uq_evaluation_scores"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    assignment_id: Mapped[int] = mapped_column(ForeignKey("evaluation_assignments.id", ondelete="CASCADE"), index=True)
    indicator: Mapped[str] = mapped_column(String(64))  # the leaf's key in the round's tree
    points: Mapped[float] = mapped_column(Float)  # 0 .. the leaf's points, two decimals
    comment: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime] = updated_at_column()


class EvaluationSelfReport(Base):
    """An institution's own figures for the year (自评报告), shown beside the measured ones."""

    __tablename__ = "evaluation_self_reports"
    __table_args__ = (UniqueConstraint("round_id", "institution_id", name="uq_evaluation_self_reports"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    round_id: Mapped[int] = mapped_column(ForeignKey("evaluation_rounds.id", ondelete="CASCADE"), index=True)
    institution_id: Mapped[int] = mapped_column(ForeignKey("institutions.id", ondelete="RESTRICT"))
    effective_hours: Mapped[float] = mapped_column(Float)  # 有效工作机时, all instruments, the year
    external_hours: Mapped[float] = mapped_column(Float)  # 对外服务机时
    instruments_open: Mapped[int] = mapped_column(Integer)  # 开放共享的仪器台数
    external_income_fen: Mapped[int] = mapped_column(BigInteger)  # 对外服务收入
    summary: Mapped[str] = mapped_column(Text, default="")
    # [{"name", "key", "size", "sha256"}]: PDFs under DATA_DIR/evaluation
    attachments: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    submitted_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    submitted_by_name: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = created_at_column()
    updated_at: Mapped[datetime] = updated_at_column()


class EvaluationAppeal(Base):
    """An institution's appeal against its published result (one per round); accepted, it reopens that
    institution alone for its experts; its result before the re-scoring is kept here."""

    __tablename__ = "evaluation_appeals"
    __table_args__ = (UniqueConstraint("round_id", "institution_id", name="uq_evaluation_appeals"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    round_id: Mapped[int] = mapped_column(ForeignKey("evaluation_rounds.id", ondelete="CASCADE"), index=True)
    institution_id: Mapped[int] = mapped_column(ForeignKey("institutions.id", ondelete="RESTRICT"))
    reason: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default="pending")  # pending | accepted | rejected | resolved
    filed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    filed_by_name: Mapped[str] = mapped_column(String(100))
    reply: Mapped[str | None] = mapped_column(Text)
    decided_by_name: Mapped[str | None] = mapped_column(String(100))
    decided_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    previous: Mapped[dict[str, Any] | None] = mapped_column(JSON)  # total, grade, rank, subsidy before
    created_at: Mapped[datetime] = created_at_column()
