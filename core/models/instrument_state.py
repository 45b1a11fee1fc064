"""What the current sensors tell about an instrument: its state over time (one
row per interval, the current one open) and the current levels that separate
off, standby and on for it (learned, or set by an admin)."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Float, ForeignKey, Index, Integer, String, text
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base
from core.models._types import UtcDateTime, updated_at_column

STATES = ("on", "standby", "off", "offline")


class InstrumentStateInterval(Base):
    __tablename__ = "instrument_state_intervals"
    __table_args__ = (
        Index("ix_instrument_state_intervals_instrument_start", "instrument_id", "start_at"),
        # at most one open interval per instrument, whatever the number of writers
        Index("uq_instrument_state_intervals_open", "instrument_id", unique=True,
              sqlite_where=text("end_at IS NULL"), postgresql_where=text("end_at IS NULL")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    instrument_id: Mapped[int] = mapped_column(ForeignKey("instruments.id", ondelete="CASCADE"))
    state: Mapped[str] = mapped_column(String(16))  # on | standby | off | offline
    start_at: Mapped[datetime] = mapped_column(UtcDateTime)
    end_at: Mapped[datetime | None] = mapped_column(UtcDateTime)  # NULL: still in this state
    reason: Mapped[str | None] = mapped_column(String(32))  # offline because: "sensor_fault"; NULL: silence
    # where the state comes from: "sensor" (live), "late_data" (re-derived from readings that came late)
    # or "staff" (a UsageCorrection); amended_at says when it was last rewritten
    source: Mapped[str] = mapped_column(String(16), default="sensor", server_default="sensor")
    amended_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class InstrumentLevels(Base):
    """Thresholds in amperes: below off_below_a it is off, above on_above_a on, standby
    between; leaving a state needs crossing its threshold by the hysteresis ratio."""

    __tablename__ = "instrument_levels"

    id: Mapped[int] = mapped_column(primary_key=True)
    instrument_id: Mapped[int] = mapped_column(ForeignKey("instruments.id", ondelete="CASCADE"), unique=True)
    off_below_a: Mapped[float] = mapped_column(Float)
    on_above_a: Mapped[float] = mapped_column(Float)
    hysteresis: Mapped[float] = mapped_column(Float)
    source: Mapped[str] = mapped_column(String(16))  # default | provisional | learned
    note: Mapped[str] = mapped_column(String(300), default="")
    samples: Mapped[int] = mapped_column(Integer, default=0)  # steady readings behind the learning
    histogram: Mapped[list[Any]] = mapped_column(JSON, default=list)  # counts per log-current bin
    learned_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    method: Mapped[str] = mapped_column(String(16), default="adaptive", server_default="baseline")
    bridge_s: Mapped[float] = mapped_column(Float, default=0.0, server_default="0")  # a duty cycle's longest gap x1.5
    clock_offset_s: Mapped[float] = mapped_column(Float, default=0.0, server_default="0")  # + : the gateway runs fast
    explain: Mapped[str] = mapped_column(String(300), default="", server_default="")  # cycling, clock, in words
    override_off_below_a: Mapped[float | None] = mapped_column(Float)
    override_on_above_a: Mapped[float | None] = mapped_column(Float)
    override_hysteresis: Mapped[float | None] = mapped_column(Float)
    override_by: Mapped[str | None] = mapped_column(String(100))
    override_at: Mapped[datetime | None] = mapped_column(UtcDateTime, index=True)
    updated_at: Mapped[datetime] = updated_at_column()

    @property
    def overridden(self) -> bool:
        return self.override_off_below_a is not None
