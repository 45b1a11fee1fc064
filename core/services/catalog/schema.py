"""Validation of one catalog line (the JSON Lines format of DESIGN.md)."""
from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StrictBool, ValidationError, field_validator

from core.models.institution import OnboardingStatus

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
