"""An annual evaluation round (开放共享评价考核): the year, the indicator tree and rules it was opened
under, the subsidy budget and deadlines; each institution taking part with its published result; and
which expert scores which institution (an expert never scores their own institution)."""
from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, Date, Float, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base
from core.models._types import UtcDateTime, created_at_column


class EvaluationRound(Base):
    __tablename__ = "evaluation_rounds"
    __table_args__ = (UniqueConstraint("year", name="uq_evaluation_rounds_year"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    year: Mapped[int] = mapped_column(Integer)  # the year evaluated (its InstrumentMonth rows and orders)
    title: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(16), default="open")  # open | published
    # copies taken at opening: a later change of the tree file or the settings never changes this round
    tree: Mapped[dict[str, Any]] = mapped_column(JSON)
    rules: Mapped[dict[str, Any]] = mapped_column(JSON)
    budget_fen: Mapped[int] = mapped_column(BigInteger)
    self_report_due: Mapped[date] = mapped_column(Date)  # local dates, the whole day included
    scoring_due: Mapped[date] = mapped_column(Date)
    appeal_days: Mapped[int] = mapped_column(Integer)
    published_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    appeal_deadline: Mapped[date | None] = mapped_column(Date)
    payout_note: Mapped[str | None] = mapped_column(String(200))  # e.g. why nothing was paid
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = created_at_column()


class EvaluationEntry(Base):
    """One institution in a round, and its result as last published (a snapshot: later corrections of
    the data never change a published result; only a re-publication after an appeal does)."""

    __tablename__ = "evaluation_entries"
    __table_args__ = (UniqueConstraint("round_id", "institution_id", name="uq_evaluation_entries"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    round_id: Mapped[int] = mapped_column(ForeignKey("evaluation_rounds.id", ondelete="CASCADE"), index=True)
    institution_id: Mapped[int] = mapped_column(ForeignKey("institutions.id", ondelete="RESTRICT"), index=True)
    status: Mapped[str] = mapped_column(String(16), default="open")  # open | published | reopened
    # {"figures": {...}, "indicators": {key: {"value", "points", "experts": [...]}}, "groups": {key: points}}
    result: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    total: Mapped[float | None] = mapped_column(Float)
    tie_score: Mapped[float | None] = mapped_column(Float)  # the tie-break group's points (共享服务)
    grade: Mapped[str | None] = mapped_column(String(16))  # excellent | good | pass | poor
    rank: Mapped[int | None] = mapped_column(Integer)
    subsidy_fen: Mapped[int | None] = mapped_column(BigInteger)
    rectification: Mapped[bool] = mapped_column(Boolean, default=False)  # 较差: one year of 整改
    version: Mapped[int] = mapped_column(Integer, default=0)  # how many times its result was published
    published_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class EvaluationAssignment(Base):
    """An expert's task: score the expert indicators of one institution in one round, then sign."""

    __tablename__ = "evaluation_assignments"
    __table_args__ = (UniqueConstraint("round_id", "institution_id", "expert_id", name="uq_evaluation_assignments"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    round_id: Mapped[int] = mapped_column(ForeignKey("evaluation_rounds.id", ondelete="CASCADE"), index=True)
    institution_id: Mapped[int] = mapped_column(ForeignKey("institutions.id", ondelete="RESTRICT"))
    expert_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"), index=True)
    signed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)  # scores are locked once signed
    signed_name: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[datetime] = created_at_column()
