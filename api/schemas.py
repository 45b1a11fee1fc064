"""Response shapes of the JSON API (also the source of the OpenAPI document)."""
from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class ErrorDetail(BaseModel):
    code: str
    message: str
    details: dict[str, Any]


class ErrorBody(BaseModel):
    error: ErrorDetail


class InstitutionRef(BaseModel):
    code: str
    name: str
    city: str | None


class InstrumentRef(BaseModel):
    code: str
    name: str
    status: str


class ServiceSummary(BaseModel):
    code: str
    name: str
    price_cny: float
    price_unit: str | None
    turnaround_days: int | None
    accreditations: list[str]


class SearchItem(BaseModel):
    service: ServiceSummary
    instrument: InstrumentRef
    institution: InstitutionRef
    score: float
    why: list[str]


class SearchResponse(BaseModel):
    query: str
    items: list[SearchItem]
    message: str | None = None


class RatingItem(BaseModel):
    stars: int
    comment: str | None
    lab_reply: str | None


class RatingSummaryOut(BaseModel):
    average: float | None
    count: int
    recent: list[RatingItem]


class ServiceDetail(ServiceSummary):
    description: str | None
    sample_types: list[str]
    analytes: list[str]
    standards: list[str]
    duration_minutes: int | None
    sample_requirements: str | None
    instrument: InstrumentRef
    institution: InstitutionRef
    rating: RatingSummaryOut


class InstrumentDetail(BaseModel):
    code: str
    name: str
    name_en: str | None
    model: str | None
    manufacturer: str | None
    category: str | None
    location: str | None
    specs: str | None
    functions: str | None
    status: str
    institution: InstitutionRef
    services: list[ServiceSummary]


class InstrumentSummary(BaseModel):
    code: str
    name: str
    model: str | None
    category: str | None


class InstitutionDetail(BaseModel):
    code: str
    name: str
    city: str | None
    address: str | None
    contact_name: str | None
    contact_phone: str | None
    instruments: list[InstrumentSummary]
    total: int
    page: int
    per_page: int


class Category(BaseModel):
    name: str
    services: int


class CategoryList(BaseModel):
    items: list[Category]


class PageParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    page: int = Field(default=1, ge=1)
    per_page: int = Field(default=20, ge=1, le=100)


class HotSearch(BaseModel):
    query: str
    count: int


class HotSearches(BaseModel):
    items: list[HotSearch]


class SearchHistory(BaseModel):
    items: list[str]
