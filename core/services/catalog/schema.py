"""Validation of one catalog line (the JSON Lines format of DESIGN.md)."""
from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Annotated, Any

from pydantic import (
    BaseModel, ConfigDict, Field, StrictBool, ValidationError, ValidationInfo, field_validator, model_validator,
)

from core.models.institution import OnboardingStatus
from core.services.catalog import platform_code, record_fields as rf

Code = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^\S(.*\S)?$")]
Name = Annotated[str, Field(min_length=1, max_length=300)]
Money = Annotated[Decimal, Field(ge=0, max_digits=14, decimal_places=2)]
# lengths follow the columns, so PostgreSQL and SQLite reject the same lines
Short = Annotated[str, Field(max_length=64)]
Medium = Annotated[str, Field(max_length=200)]
Long = Annotated[str, Field(max_length=300)]


def _strings(value: Any) -> Any:
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    return value


class _Record(BaseModel):
    # extra keys are kept out rather than rejected: later formats may add fields
    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)


class InstitutionIn(_Record):
    code: Code
    name: Annotated[str, Field(min_length=1, max_length=200)]
    city: Short | None = None
    address: Long | None = None
    contact_name: Annotated[str, Field(max_length=100)] | None = None
    contact_phone: Short | None = None
    # None: keep what the platform decided (new institutions from a catalog start approved)
    status: OnboardingStatus | None = None


class InstrumentIn(_Record):
    code: Code
    name: Annotated[str, Field(min_length=1, max_length=200)]
    name_en: Medium | None = None
    model: Medium | None = None
    manufacturer: Medium | None = None
    category: Medium | None = None
    value_cny: Money | None = None
    purchase_date: date | None = None
    location: Long | None = None
    specs: str | None = None
    functions: str | None = None
    open_for_sharing: StrictBool | None = None
    # the national record (docs/import-format.md); optional, and left as stored when the key is absent
    classification_code: str | None = None
    platform_code: str | None = None  # read back from an export; an assigned code never changes
    acquisition: str | None = None
    country: str | None = None
    value_wan: Decimal | None = None
    in_service_date: date | None = None
    disciplines: list[str] | None = None
    run_status: str | None = None
    share_mode: str | None = None
    fee_standard: str | None = None
    customs_supervised: bool | None = None
    province: str | None = None
    city: str | None = None
    county: str | None = None
    contact_name: str | None = None
    contact_phone: str | None = None

    # each parser answers in Chinese, so pydantic's English never reaches these fields' errors
    @field_validator("specs", "functions", mode="before")
    @classmethod
    def _record_length(cls, value: Any, info: ValidationInfo) -> Any:
        # only the national record's limit is new here: other values go on to be checked as before
        if isinstance(value, str):
            limit = rf.TEXT_MAX[info.field_name]
            if len(value.strip()) > limit:
                raise ValueError(f"{rf.FIELD_LABELS[info.field_name]}最多 {limit} 个字（现有 {len(value.strip())} 个）")
        return value

    @field_validator("country", "fee_standard", "province", "city", "county", "contact_name", "contact_phone",
                     mode="before")
    @classmethod
    def _text(cls, value: Any, info: ValidationInfo) -> Any:
        return rf.parse_text(info.field_name, value)

    @field_validator("acquisition", "run_status", "share_mode", mode="before")
    @classmethod
    def _choice(cls, value: Any, info: ValidationInfo) -> Any:
        return rf.parse_choice(info.field_name, value)

    @field_validator("classification_code", mode="before")
    @classmethod
    def _classification(cls, value: Any) -> Any:
        return rf.parse_classification(value)

    @field_validator("platform_code", mode="before")
    @classmethod
    def _platform_code(cls, value: Any) -> Any:
        if value is None or value == "":
            return None
        if not isinstance(value, str) or not platform_code.PATTERN.match(value.strip()):
            raise ValueError("平台编号须为 PP-机构-分类-顺序号 的形式，如 50-CQATC-0105-0001（通常不填，由平台分配）")
        return value.strip()

    @field_validator("value_wan", mode="before")
    @classmethod
    def _wan(cls, value: Any) -> Any:
        return rf.parse_value_wan(value)

    @field_validator("in_service_date", mode="before")
    @classmethod
    def _date(cls, value: Any, info: ValidationInfo) -> Any:
        return rf.parse_date(info.field_name, value)

    @field_validator("disciplines", mode="before")
    @classmethod
    def _disciplines(cls, value: Any) -> Any:
        return rf.parse_disciplines(value)

    @field_validator("customs_supervised", mode="before")
    @classmethod
    def _bool(cls, value: Any, info: ValidationInfo) -> Any:
        return rf.parse_bool(info.field_name, value)

    @model_validator(mode="after")
    def _consistent(self) -> "InstrumentIn":
        if self.value_wan is not None and self.value_cny is not None and self.value_wan * rf.WAN != self.value_cny:
            raise ValueError(f"原值不一致：value_wan {self.value_wan} 万元即 {self.value_wan * rf.WAN:.2f} 元，"
                             f"而 value_cny 为 {self.value_cny} 元；请只填其一，或改为一致")
        implied = rf.sharing_from_mode(self.share_mode)
        if implied is not None and self.open_for_sharing is not None and implied != self.open_for_sharing:
            raise ValueError(f"共享模式为“{rf.label_of('share_mode', self.share_mode)}”时 open_for_sharing 应为 "
                             f"{'true' if implied else 'false'}；两者矛盾，请只填其一或改为一致")
        return self


class ServiceIn(_Record):
    code: Code
    name: Name
    description: str | None = None
    sample_types: list[str] = []
    analytes: list[str] = []
    standards: list[str] = []
    price_cny: Money
    price_unit: Annotated[str, Field(max_length=32)] | None = None
    duration_minutes: Annotated[int, Field(ge=0)] | None = None
    turnaround_days: Annotated[int, Field(ge=0)] | None = None
    sample_requirements: str | None = None
    accreditations: list[str] = []
    active: StrictBool | None = None

    @field_validator("sample_types", "analytes", "standards", "accreditations", mode="before")
    @classmethod
    def _as_list(cls, value: Any) -> Any:
        return _strings(value)

    @field_validator("price_cny", mode="before")
    @classmethod
    def _number_only(cls, value: Any) -> Any:
        # the format promises a number; "300元" or true must not slip through as 300 or 1
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ValueError("must be a number")
        return value


class CatalogLine(_Record):
    institution: InstitutionIn
    instrument: InstrumentIn
    services: list[ServiceIn] = []

    @field_validator("services")
    @classmethod
    def _unique_codes(cls, services: list[ServiceIn]) -> list[ServiceIn]:
        seen: set[str] = set()
        for s in services:
            if s.code in seen:
                raise ValueError(f"service code {s.code!r} appears twice on this line")
            seen.add(s.code)
        return services


def describe_validation_error(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors():
        where = ".".join(str(p) for p in err["loc"]) or "line"
        msg = err["msg"].removeprefix("Value error, ")
        parts.append(f"{where}: {msg}")
    return "; ".join(parts)
