"""Request and response models of the order, lab, voucher and group-buy APIs."""
from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from api.validation import Count, Day, MoneyCNY, Moment, RecordId, Stars


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class CreateOrderBody(Strict):
    service_code: str = Field(min_length=1, max_length=64)
    samples: Count = Field(description="number of samples, at least 1")
    sample_description: str = Field(max_length=2000)
    mode: Literal["visit", "mail"] = "mail"
    slot_start: Moment | None = Field(default=None, description="visit: ISO 8601 with a time zone")
    delivery_date: Day | None = Field(default=None, description="mail: when the samples arrive")
    contact_name: str | None = Field(default=None, max_length=100)
    contact_phone: str | None = Field(default=None, max_length=32)
    voucher_id: RecordId | None = None
    voucher_cny: MoneyCNY | None = Field(default=None, description="voucher part wanted; default: the most allowed")
    expected_total_cny: MoneyCNY | None = Field(default=None, description="the price the client showed; checked")
    campaign_id: RecordId | None = Field(default=None, description="join this group-buy")


class ReasonBody(Strict):
    reason: str = Field(default="", max_length=1000)


class RatingBody(Strict):
    stars: Stars
    comment: str | None = Field(default=None, max_length=2000)


class ReplyBody(Strict):
    reply: str = Field(max_length=2000)


class ResolveBody(Strict):
    outcome: Literal["release", "partial", "refund"]
    refund_cny: MoneyCNY | None = None
    reason: str = Field(default="", max_length=1000)


class OrderEventOut(BaseModel):
    at: datetime
    actor_role: str
    from_status: str | None
    to_status: str
    reason: str | None


class OrderOut(BaseModel):
    number: str
    status: str
    service_code: str
    service_name: str
    institution_code: str
    instrument_code: str
    samples: int
    sample_description: str
    company_name: str
    contact_name: str
    contact_phone: str
    mode: str
    slot_start: datetime | None
    slot_end: datetime | None
    delivery_date: date | None
    unit_price_cny: float
    total_cny: float
    voucher_cny: float
    cash_cny: float
    campaign_id: int | None
    expires_at: datetime | None
    auto_confirm_at: datetime | None
    created_at: datetime


class OrderDetail(OrderOut):
    events: list[OrderEventOut]
    has_report: bool


class OrderList(BaseModel):
    items: list[OrderOut]


class PaymentStartOut(BaseModel):
    order: OrderOut
    payment: dict[str, Any]


class NotifyResult(BaseModel):
    result: str
    order: OrderOut | None = None


class ReportOut(BaseModel):
    filename: str
    size_bytes: int
    sha256: str
    uploaded_at: datetime
    download_url: str
    expires_in: int


class RatingOut(BaseModel):
    order_number: str
    stars: int
    comment: str | None
    lab_reply: str | None
    created_at: datetime


class CalendarDayOut(BaseModel):
    day: date
    opening_hours: list[list[str]]
    booked: list[dict[str, Any]]
    blackouts: list[dict[str, Any]]


class CalendarOut(BaseModel):
    instrument_code: str
    days: list[CalendarDayOut]


class CalendarQuery(Strict):
    start: Day | None = Field(default=None, description="first day (default today)")
    days: int = Field(default=14, ge=1, le=62)


class OpeningHoursBody(Strict):
    hours: dict[int, list[tuple[str, str]]] = Field(description='weekday (0 = Monday) -> [["09:00", "17:00"], …]')


class BlackoutBody(Strict):
    starts_at: Moment
    ends_at: Moment
    reason: str | None = Field(default=None, max_length=200)


class OkOut(BaseModel):
    ok: bool = True


class VoucherApplyBody(Strict):
    requested_cny: MoneyCNY
    purpose: str = Field(max_length=2000)


class VoucherDecisionBody(Strict):
    approve: bool
    amount_cny: MoneyCNY | None = None
    valid_until: Day | None = None
    reason: str | None = Field(default=None, max_length=1000)


class VoucherOut(BaseModel):
    id: int
    company_name: str
    company_credit_code: str
    status: str
    requested_cny: float
    approved_cny: float
    reserved_cny: float
    consumed_cny: float
    available_cny: float
    valid_from: date | None
    valid_until: date | None
    purpose: str
    decision_reason: str | None


class VoucherList(BaseModel):
    items: list[VoucherOut]


class StatementQuery(Strict):
    start: Day = Field(alias="from")
    end: Day = Field(alias="to")
    format: Literal["json", "csv"] = "json"


class StatementLineOut(BaseModel):
    institution_code: str
    institution_name: str
    orders: int
    voucher_cny: float


class StatementOut(BaseModel):
    start: date
    end: date
    lines: list[StatementLineOut]
    total_cny: float


class CampaignBody(Strict):
    service_code: str
    min_samples: Count
    max_samples: Count
    group_price_cny: MoneyCNY
    deadline: Moment
    run_date: Day


class CampaignOut(BaseModel):
    id: int
    service_code: str
    service_name: str
    min_samples: int
    max_samples: int
    paid_samples: int
    progress: str
    group_price_cny: float
    deadline: datetime
    run_date: date
    status: str


class CampaignList(BaseModel):
    items: list[CampaignOut]


class NotificationOut(BaseModel):
    id: int
    kind: str
    title: str
    body: str
    order_number: str | None
    wechat_status: str
    read: bool
    created_at: datetime


class NotificationList(BaseModel):
    items: list[NotificationOut]


class LedgerCheckOut(BaseModel):
    balanced: bool
    problems: list[str]
    balances: dict[str, float]


class DownloadQuery(Strict):
    token: str
