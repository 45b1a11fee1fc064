"""Machine-hours and order reconciliation from the instruments' current sensors,
for the lab that runs the instrument and the platform's administrators."""
from __future__ import annotations

from datetime import date, datetime  # date: used by the pydantic models' annotations

from flask import Blueprint, current_app, jsonify, request
from pydantic import BaseModel, ConfigDict, Field

from api.auth import signed_in_user
from api.openapi import documented
from api.validation import parse_query
from core.db import unit_of_work
from core.services.usage.hours import MonthUsage, month_usage

iot_bp = Blueprint("iot", __name__, url_prefix="/api/v1")


class UsageQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")
    month: str = Field(pattern=r"^\d{4}-\d{2}$", description="YYYY-MM, in the platform's time zone")


class StateHours(BaseModel):
    on: float
    standby: float
    off: float
    offline: float
    unknown: float = Field(description="no sensor data (not yet installed, or before ingestion started)")


class DayAudit(BaseModel):
    measured: float = Field(description="hours the live readings showed")
    amended: float = Field(description="hours re-derived from readings that arrived late (a gateway's buffer)")
    corrected: float = Field(description="hours lab staff corrected")
    unknown: float = Field(description="hours without a known state: offline, a dead sensor, no data")


class DayUsageOut(BaseModel):
    date: date
    hours: StateHours
    external_hours: float
    audit: DayAudit
    sensor_fault_hours: float = Field(description="part of offline: the sensor sent zeros (a dead or loose clamp)")


class SlotUsageOut(BaseModel):
    order_number: str
    status: str
    slot_start: datetime
    slot_end: datetime
    on_minutes: float
    unobserved_minutes: float
    possible_no_show: bool


class InstrumentUsage(BaseModel):
    instrument: str
    name: str
    month: str
    totals: StateHours
    external_hours: float = Field(description="on-time inside booked slots")
    internal_hours: float = Field(description="on-time outside every order")
    sharing_rate: float | None = Field(description="external hours / on hours; null without on-time")
    days: list[DayUsageOut]
    slots: list[SlotUsageOut]


def _out(usage: MonthUsage) -> InstrumentUsage:
    return InstrumentUsage(
        instrument=usage.instrument_code, name=usage.instrument_name, month=usage.month,
        totals=StateHours(**usage.totals), external_hours=usage.external_hours, internal_hours=usage.internal_hours,
        sharing_rate=usage.sharing_rate,
        days=[DayUsageOut(date=d.day, hours=StateHours(**d.hours), external_hours=d.external_hours,
                          audit=DayAudit(**d.audit), sensor_fault_hours=d.sensor_fault_hours)
              for d in usage.days],
        slots=[SlotUsageOut(order_number=s.number, status=s.status, slot_start=s.slot_start, slot_end=s.slot_end,
                            on_minutes=round(s.on_minutes, 2), unobserved_minutes=round(s.unobserved_minutes, 2),
                            possible_no_show=s.possible_no_show) for s in usage.slots],
    )


@iot_bp.get("/instruments/<code>/usage")
@documented("/instruments/{code}/usage", "get",
            "Machine-hours per day of a month, external vs internal use and possible no-shows (lab staff, admins)",
            InstrumentUsage, UsageQuery, errors=(400, 401, 403, 404), signed_in=True)
def get_usage(code: str):  # type: ignore[no-untyped-def]
    query = parse_query(UsageQuery, request.args, {"month": "month 须为年-月格式，如 2025-03。"})
    platform = current_app.extensions["platform"]
    with unit_of_work(platform.session_factory) as session:
        usage = month_usage(session, signed_in_user(session), code, query.month, platform.settings.orders.timezone)
        body = _out(usage)
    return jsonify(body.model_dump(mode="json"))
