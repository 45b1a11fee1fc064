"""A large instrument, as in the national instrument record (大型科研仪器 国家网络管理平台 record
fields are columns; anything else an import carries goes to `extra`)."""
from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from sqlalchemy import JSON, Boolean, Date, ForeignKey, Numeric, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core.db import Base
from core.models._types import created_at_column, updated_at_column

if TYPE_CHECKING:
    from core.models.institution import Institution
    from core.models.service import Service


class Instrument(Base):
    __tablename__ = "instruments"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    institution_id: Mapped[int] = mapped_column(ForeignKey("institutions.id", ondelete="RESTRICT"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    name_en: Mapped[str | None] = mapped_column(String(200))
    model: Mapped[str | None] = mapped_column(String(200))
    manufacturer: Mapped[str | None] = mapped_column(String(200))
    category: Mapped[str | None] = mapped_column(String(200), index=True)
    value_cny: Mapped[Decimal | None] = mapped_column(Numeric(14, 2))
    purchase_date: Mapped[date | None] = mapped_column(Date)
    location: Mapped[str | None] = mapped_column(String(300))
    specs: Mapped[str | None] = mapped_column(Text)
    functions: Mapped[str | None] = mapped_column(Text)
    open_for_sharing: Mapped[bool] = mapped_column(Boolean, default=True)
    # 入网审核: only approved objects are searchable or bookable (core/models/review.py)
    review_status: Mapped[str] = mapped_column(String(20), default="approved", server_default="approved", index=True)
    # the national record (数据报送): slugs here, Chinese labels in catalog/record_fields.py
    classification_code: Mapped[str | None] = mapped_column(String(16), index=True)  # 设备分类编码
    platform_code: Mapped[str | None] = mapped_column(String(32), unique=True)  # docs/import-format.md
    acquisition: Mapped[str | None] = mapped_column(String(16))  # 仪器来源: purchase|built|donated|other
    country: Mapped[str | None] = mapped_column(String(64))  # 产地国别
    in_service_date: Mapped[date | None] = mapped_column(Date)  # 启用日期
    disciplines: Mapped[list[str] | None] = mapped_column(JSON, default=list)  # 主要学科领域, at most 4
    run_status: Mapped[str | None] = mapped_column(String(24))  # 运行状态
    share_mode: Mapped[str | None] = mapped_column(String(16))  # 共享模式: internal|external|none
    fee_standard: Mapped[str | None] = mapped_column(String(500))  # 参考收费标准
    customs_supervised: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")  # 海关监管
    province: Mapped[str | None] = mapped_column(String(32))
    city: Mapped[str | None] = mapped_column(String(64), index=True)
    county: Mapped[str | None] = mapped_column(String(64))
    contact_name: Mapped[str | None] = mapped_column(String(100))
    contact_phone: Mapped[str | None] = mapped_column(String(64))
    photo_file: Mapped[str | None] = mapped_column(String(200))  # a JPEG under DATA_DIR/photos
    extra: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # the private, revocable ICS feed of the instrument's bookings
    calendar_feed_secret: Mapped[str | None] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = created_at_column()
    updated_at: Mapped[datetime] = updated_at_column()

    institution: Mapped["Institution"] = relationship(back_populates="instruments")
    services: Mapped[list["Service"]] = relationship(back_populates="instrument")
