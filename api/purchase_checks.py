"""新购查重: the duplicate-purchase check of a large instrument an institution wants to buy (platform admins;
institution admins for their own institution). The check is recorded as a request the experts conclude
on; unlike the workbench's filing it carries no quotations (core/services/data/purchase_check.py)."""
from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from flask import Blueprint, current_app, jsonify, request
from pydantic import BaseModel, ConfigDict, Field

from api.auth import signed_in_user
from api.openapi import documented
from api.validation import MoneyCNY, parse_json_body
from core.models import Institution, PurchaseRequest
from core.models._types import utcnow
from core.platform import Platform
from core.services.catalog.classification import label
from core.services.data.purchase_check import precompute, submit_request, viewable_request
from core.services.data.purchase_similar import PurchaseFields

purchase_checks_bp = Blueprint("purchase_checks", __name__, url_prefix="/api/v1")

Hours = Annotated[float, Field(strict=True, ge=0, le=8784, allow_inf_nan=False)]


class PurchaseCheckBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200, description="拟购仪器名称", examples=["X射线衍射仪"])
    classification: str = Field(pattern=r"^\d{4}(\d{2})?$", description="设备分类编码: 大类+中类 (+小类)",
                                examples=["0103"])
    model: str | None = Field(default=None, max_length=200)
    specs: str | None = Field(default=None, max_length=5000, description="主要技术指标")
    purpose: str | None = Field(default=None, max_length=2000, description="用途 (read like an instrument's functions)")
    price_cny: MoneyCNY
    expected_hours: Hours | None = Field(default=None, description="预计年使用机时")
    city: str | None = Field(default=None, min_length=1, max_length=64, description="default: the institution's city")
    province: str | None = Field(default=None, min_length=1, max_length=32, description="default: the city's")
    institution: str | None = Field(default=None, min_length=1, max_length=64,
                                    description="the requesting institution's code (platform admins)")


class InstitutionOut(BaseModel):
    code: str
    name: str
    city: str | None


class SimilarInstrumentOut(BaseModel):
    code: str
    name: str
    model: str | None
    city: str | None
    province: str | None
    institution: InstitutionOut


class PriceOut(BaseModel):
    name: str
    price_cny: float
    price_unit: str | None


class SimilarOut(BaseModel):
    instrument: SimilarInstrumentOut
    similarity: float = Field(description="mean cosine of the names and of name+specs+functions")
    matched_by: list[Literal["class", "text", "model"]]
    same_city: bool
    own_institution: bool
    open_for_sharing: bool
    effective_hours_12m: float | None = Field(description="有效工作机时, the last 12 full months; null: no figures")
    quota_hours_12m: float | None
    utilisation_12m: float | None = Field(description="effective / quota hours, 0..1+; null: no figures")
    months_with_data: int
    saturated: bool | None
    services: list[PriceOut]


class PurchaseCheckOut(BaseModel):
    id: int
    status: Literal["submitted", "recorded", "concluded"]
    institution: InstitutionOut | None
    name: str
    classification: str | None
    classification_label: str
    model: str | None
    specs: str | None
    purpose: str | None
    price_cny: float
    expected_hours: float | None
    city: str | None
    province: str | None
    quotations: int = Field(description="quotation PDFs filed with the request (the API's check files none)")
    similar: list[SimilarOut]
    draft_opinion: Literal["purchase", "share", "expert_review"]
    reasons: list[str]
    split_suspected: bool
    conclusion: Literal["purchase", "share", "reject"] | None
    conclusion_comment: str | None
    concluded_by: str | None
    concluded_at: datetime | None
    created_at: datetime


def _platform() -> Platform:
    return current_app.extensions["platform"]


def check_out(found: PurchaseRequest, institution: Institution | None) -> PurchaseCheckOut:
    return PurchaseCheckOut(
        id=found.id, status=found.status,  # type: ignore[arg-type]
        institution=InstitutionOut(code=institution.code, name=institution.name, city=institution.city)
        if institution else None,
        name=found.name, classification=found.classification_code, classification_label=label(found.classification_code),
        model=found.model, specs=found.specs, purpose=found.purpose, price_cny=round(found.price_fen / 100, 2),
        expected_hours=found.expected_hours, city=found.city, province=found.province,
        quotations=len(found.quotations or []), similar=[SimilarOut.model_validate(s) for s in found.similar or []],
        draft_opinion=found.draft_opinion, reasons=list(found.reasons or []),  # type: ignore[arg-type]
        split_suspected=found.split_suspected, conclusion=found.conclusion,  # type: ignore[arg-type]
        conclusion_comment=found.conclusion_comment, concluded_by=found.concluded_by, concluded_at=found.concluded_at,
        created_at=found.created_at)


@purchase_checks_bp.post("/purchase-checks")
@documented("/purchase-checks", "post", "Check a planned instrument purchase against similar instruments of the region",
            PurchaseCheckOut, errors=(400, 401, 403, 422, 503), body=PurchaseCheckBody, signed_in=True, status=201)
def create_check():  # type: ignore[no-untyped-def]
    body = parse_json_body(PurchaseCheckBody, request.get_json(silent=True))
    p, now = _platform(), utcnow()
    encoder = current_app.extensions["search"].encoder
    fields = PurchaseFields(name=body.name, classification=body.classification, price_fen=round(body.price_cny * 100),
                            city=body.city or "", model=body.model, specs=body.specs, purpose=body.purpose,
                            expected_hours=body.expected_hours, province=body.province)
    with p.transaction(write=False) as session:
        precompute(session, signed_in_user(session), encoder, fields, p.settings, now)
    with p.transaction() as session:
        found = submit_request(session, signed_in_user(session), fields, None, encoder, p.settings, now,
                               institution_code=body.institution)
        out = check_out(found, session.get(Institution, found.institution_id) if found.institution_id else None)
    return jsonify(out.model_dump(mode="json")), 201


@purchase_checks_bp.get("/purchase-checks/<int:request_id>")
@documented("/purchase-checks/{request_id}", "get", "A purchase check with its evidence and the experts' conclusion",
            PurchaseCheckOut, errors=(401, 403, 404), signed_in=True)
def get_check(request_id: int):  # type: ignore[no-untyped-def]
    with _platform().transaction(write=False) as session:
        found = viewable_request(session, signed_in_user(session), request_id)
        out = check_out(found, session.get(Institution, found.institution_id) if found.institution_id else None)
    return jsonify(out.model_dump(mode="json"))
