"""数据报送: the instruments as the national record and the settled orders as its 服务记录, for a period
of local days, as JSON (times ISO 8601 with their offset) or CSV (UTF-8 with a BOM so Excel reads the
Chinese; times as the platform zone's wall clock).

- instruments: every instrument already in service by the period's last day (or without an in-service
  date), its record fields in Chinese, with its platform code and institution.
- services: every order settled in the period (the moment of its `settled` event), one row each:
  金额 is the order amount less any refund a dispute decided; 服务方式 is 占用 for a booked slot at the
  lab and 委托 for samples sent in; 服务时间 is the slot's start, or for samples when testing started;
  服务量 the slot's hours or the number of samples; 用户评价 the rating's words (empty if not rated).
"""
from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session, selectinload

from core.errors import InvalidInput
from core.models import (
    DeliveryMode, Institution, Instrument, Order, OrderEvent, OrderStatus, Rating, Refund, Role, Service, User,
)
from core.models._types import local_days
from core.services.catalog import classification
from core.services.catalog import record_fields as rf
from core.services.orders.lab_money import check_period
from core.services.people.authz import require_role

WHATS = ("instruments", "services")
FORMATS = ("json", "csv")
RATING_WORDS = {5: "非常满意", 4: "满意", 3: "一般", 2: "差", 1: "极差"}
# 服务方式 of the national record (占用/技术/委托/远程/其他) by how the order is delivered
SERVICE_WAYS = {DeliveryMode.visit: "占用", DeliveryMode.mail: "委托"}
QUANTITY_UNITS = {DeliveryMode.visit: "小时", DeliveryMode.mail: "样"}


@dataclass(frozen=True)
class Column:
    key: str  # the JSON key
    label: str  # the CSV header


INSTRUMENT_COLUMNS = [Column(k, v) for k, v in (
    ("platform_code", "平台编号"), ("code", "仪器编号"), ("name", "仪器名称"), ("name_en", "英文名称"),
    ("model", "规格型号"), ("manufacturer", "生产制造商"), ("classification_code", "仪器分类编码"),
    ("classification", "仪器分类"), ("acquisition", "仪器来源"), ("country", "产地国别"),
    ("value_cny", "原值（元）"), ("value_wan", "原值（万元）"), ("purchase_date", "购置日期"),
    ("in_service_date", "启用日期"), ("disciplines", "主要学科领域"), ("specs", "主要技术指标"),
    ("functions", "主要功能"), ("run_status", "运行状态"), ("share_mode", "共享模式"),
    ("fee_standard", "参考收费标准"), ("customs_supervised", "海关监管"), ("province", "所在省份"),
    ("city", "所在城市"), ("county", "所在区县"), ("location", "安放地址"), ("contact_name", "联系人"),
    ("contact_phone", "联系电话"), ("institution_code", "所属单位编码"), ("institution", "所属单位"),
)]
SERVICE_COLUMNS = [Column(k, v) for k, v in (
    ("order_number", "订单号"), ("platform_code", "仪器平台编号"), ("instrument", "仪器名称"),
    ("institution_code", "服务单位编码"), ("institution", "服务单位"), ("service", "服务内容"),
    ("way", "服务方式"), ("service_time", "服务时间"), ("quantity", "服务量"), ("quantity_unit", "服务量单位"),
    ("amount_cny", "金额（元）"), ("client", "服务对象"), ("rating", "用户评价"), ("settled_at", "结算时间"),
)]


@dataclass
class NationalExport:
    what: str
    start: date
    end: date
    timezone: str
    columns: list[Column]
    rows: list[dict[str, Any]]  # values as JSON has them: times aware, money as Decimal


def _cny(cents: int) -> Decimal:
    return (Decimal(cents) / 100).quantize(Decimal("0.01"))


def _money(value: Decimal | None) -> Decimal | None:
    return None if value is None else Decimal(value).quantize(Decimal("0.01"))


def _instrument_row(ins: Instrument) -> dict[str, Any]:
    wan = None if ins.value_cny is None else (Decimal(ins.value_cny) / rf.WAN).quantize(Decimal("0.01"))
    return {
        "platform_code": ins.platform_code, "code": ins.code, "name": ins.name, "name_en": ins.name_en,
        "model": ins.model, "manufacturer": ins.manufacturer, "classification_code": ins.classification_code,
        "classification": classification.label(ins.classification_code),
        "acquisition": rf.label_of("acquisition", ins.acquisition), "country": ins.country,
        "value_cny": _money(ins.value_cny), "value_wan": wan, "purchase_date": ins.purchase_date,
        "in_service_date": ins.in_service_date, "disciplines": list(ins.disciplines or []), "specs": ins.specs,
        "functions": ins.functions, "run_status": rf.label_of("run_status", ins.run_status),
        "share_mode": rf.label_of("share_mode", ins.share_mode), "fee_standard": ins.fee_standard,
        "customs_supervised": rf.yes_no(ins.customs_supervised), "province": ins.province, "city": ins.city,
        "county": ins.county, "location": ins.location, "contact_name": ins.contact_name,
        "contact_phone": ins.contact_phone, "institution_code": ins.institution.code,
        "institution": ins.institution.name,
    }


def instrument_rows(session: Session, end: date) -> list[dict[str, Any]]:
    """Every instrument in service by `end` (or of unknown in-service date), by institution and code."""
    stmt = (select(Instrument).join(Institution, Institution.id == Instrument.institution_id)
            .where(or_(Instrument.in_service_date.is_(None), Instrument.in_service_date <= end))
            .options(selectinload(Instrument.institution)).order_by(Institution.code, Instrument.code))
    return [_instrument_row(ins) for ins in session.scalars(stmt)]


def _service_time(order: Order, started: datetime | None, settled_at: datetime) -> datetime:
    if order.mode == DeliveryMode.visit and order.slot_start is not None:
        return order.slot_start
    return started or settled_at


def _quantity(order: Order) -> Decimal | int:
    if order.mode == DeliveryMode.visit and order.slot_start is not None and order.slot_end is not None:
        hours = Decimal((order.slot_end - order.slot_start).total_seconds()) / 3600
        return hours.quantize(Decimal("0.01"))
    return order.samples


def service_rows(session: Session, start: date, end: date, tz: str) -> list[dict[str, Any]]:
    """Every order settled in the local days [start, end], oldest settlement first."""
    lo, hi = local_days(start, end, tz)
    settled = (select(OrderEvent.order_id, func.min(OrderEvent.at).label("at"))
               .where(OrderEvent.to_status == OrderStatus.settled.value).group_by(OrderEvent.order_id).subquery())
    rows = session.execute(
        select(Order, settled.c.at, Service.name, Instrument, Institution, Rating.stars)
        .join(settled, settled.c.order_id == Order.id)
        .join(Service, Service.id == Order.service_id)
        .join(Instrument, Instrument.id == Order.instrument_id)
        .join(Institution, Institution.id == Order.institution_id)
        .outerjoin(Rating, Rating.order_id == Order.id)
        .where(Order.status == OrderStatus.settled, settled.c.at >= lo, settled.c.at < hi)
        .order_by(settled.c.at, Order.number)
    ).all()
    ids = [r[0].id for r in rows]
    refunded = dict(session.execute(select(Refund.order_id, func.sum(Refund.amount_cents))
                                    .where(Refund.order_id.in_(ids)).group_by(Refund.order_id)).all()) if ids else {}
    started = dict(session.execute(select(OrderEvent.order_id, func.min(OrderEvent.at))
                                   .where(OrderEvent.order_id.in_(ids),
                                          OrderEvent.to_status == OrderStatus.testing.value)
                                   .group_by(OrderEvent.order_id)).all()) if ids else {}
    out = []
    for order, settled_at, service_name, instrument, institution, stars in rows:
        out.append({
            "order_number": order.number, "platform_code": instrument.platform_code, "instrument": instrument.name,
            "institution_code": institution.code, "institution": institution.name, "service": service_name,
            "way": SERVICE_WAYS.get(order.mode, "其他"),
            "service_time": _service_time(order, started.get(order.id), settled_at),
            "quantity": _quantity(order), "quantity_unit": QUANTITY_UNITS.get(order.mode, ""),
            "amount_cny": _cny(order.total_cents - int(refunded.get(order.id) or 0)),
            "client": order.company_name, "rating": RATING_WORDS.get(stars, "") if stars else "",
            "settled_at": settled_at,
        })
    return out


def national_export(session: Session, actor: User | None, what: str, start: date, end: date,
                    tz: str) -> NationalExport:
    """The platform admin's export (the command line acts as one)."""
    require_role(actor, Role.platform_admin)
    if what not in WHATS:
        raise InvalidInput("what 须为 instruments（仪器）或 services（服务记录）。", code="invalid_what")
    check_period(start, end)
    if what == "instruments":
        return NationalExport(what, start, end, tz, INSTRUMENT_COLUMNS, instrument_rows(session, end))
    return NationalExport(what, start, end, tz, SERVICE_COLUMNS, service_rows(session, start, end, tz))


def _json_value(value: Any, zone: ZoneInfo) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(zone).isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    return value


def as_json(export: NationalExport) -> dict[str, Any]:
    """{"what", "period", "timezone", "columns": [{"key", "label"}], "count", "items": [...]}."""
    zone = ZoneInfo(export.timezone)
    return {
        "what": export.what, "period": {"from": export.start.isoformat(), "to": export.end.isoformat()},
        "timezone": export.timezone, "columns": [{"key": c.key, "label": c.label} for c in export.columns],
        "count": len(export.rows),
        "items": [{c.key: _json_value(row[c.key], zone) for c in export.columns} for row in export.rows],
    }


def _csv_value(value: Any, zone: ZoneInfo) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        # a spreadsheet has no time zones: the wall-clock time of the platform's people
        return value.astimezone(zone).strftime("%Y-%m-%d %H:%M")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return f"{value:.2f}"
    if isinstance(value, list):
        return "；".join(value)
    return str(value)


def as_csv(export: NationalExport) -> bytes:
    zone = ZoneInfo(export.timezone)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([c.label for c in export.columns])
    for row in export.rows:
        writer.writerow([_csv_value(row[c.key], zone) for c in export.columns])
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def export_name(export: NationalExport, fmt: str) -> str:
    return f"national-{export.what}-{export.start.isoformat()}-{export.end.isoformat()}.{fmt}"
