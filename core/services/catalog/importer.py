"""Catalog import: upsert institutions, instruments and services by code.

Each line is validated and written inside its own savepoint, so a bad line
leaves nothing behind while good lines still go in.
"""
from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, TypeVar

from pydantic import BaseModel, ValidationError
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from core.errors import AppError
from core.models import Institution, Instrument, OnboardingStatus, Service
from core.models.review import APPROVED, SUBMITTED
from core.services.catalog import record_fields as rf
from core.services.catalog.index_outbox import mark_stale, services_of_institution
from core.services.catalog.platform_code import assign_platform_code
from core.services.catalog.review import record
from core.services.catalog.schema import CatalogLine, InstrumentIn, describe_validation_error

M = TypeVar("M", Institution, Instrument, Service)


@dataclass
class RejectedLine:
    line_no: int
    reason: str


@dataclass
class ImportReport:
    lines: int = 0
    counts: Counter[str] = field(default_factory=Counter)  # e.g. "service.created"
    rejected: list[RejectedLine] = field(default_factory=list)
    changed_services: set[str] = field(default_factory=set)
    seen: set[tuple[str, str]] = field(default_factory=set)

    def count(self, entity: str, outcome: str) -> int:
        return self.counts[f"{entity}.{outcome}"]

    def summary(self) -> str:
        def part(entity: str) -> str:
            return "/".join(str(self.count(entity, o)) for o in ("created", "updated", "unchanged"))

        return (
            f"{self.lines} lines: services {self.count('service', 'created')} created, "
            f"{self.count('service', 'updated')} updated, {self.count('service', 'unchanged')} unchanged; "
            f"instruments {part('instrument')}, institutions {part('institution')} (created/updated/unchanged); "
            f"{len(self.rejected)} rejected"
        )


def _assign(obj: Any, values: dict[str, Any]) -> bool:
    changed = False
    for key, value in values.items():
        if getattr(obj, key) != value:
            setattr(obj, key, value)
            changed = True
    return changed


# Flags an admin may have changed: left alone on update when the line omits them.
_KEEP_WHEN_OMITTED = ("status", "active", "open_for_sharing")
# what a new object starts as: live at once for a trusted bulk load (--approve), else waiting for review
_CREATED_AS = {
    True: {Institution: {"status": OnboardingStatus.approved}, Instrument: {"review_status": APPROVED},
           Service: {"review_status": APPROVED}},
    False: {Institution: {"status": OnboardingStatus.pending}, Instrument: {"review_status": SUBMITTED},
            Service: {"review_status": SUBMITTED}},
}
IMPORTER = "目录导入"


# the national record's fields: maintained outside the catalog file too, so a line without the key (every
# file written before they existed) leaves them as stored; a key given as null clears the field
RECORD_FIELDS = ("classification_code", "acquisition", "country", "in_service_date", "disciplines", "run_status",
                 "share_mode", "fee_standard", "customs_supervised", "province", "city", "county", "contact_name",
                 "contact_phone")
# what a record field given as null becomes (the others become None)
_CLEARED: dict[str, Any] = {"disciplines": [], "customs_supervised": False}
# read or derived, never written as such
_NOT_COLUMNS = ("value_wan", "platform_code", *RECORD_FIELDS)


def _instrument_values(data: InstrumentIn, stored: Instrument | None) -> dict[str, Any]:
    """The instrument's columns as the line sets them."""
    values = data.model_dump(exclude=set(_NOT_COLUMNS))
    given = data.model_fields_set
    for key in RECORD_FIELDS:
        if key in given:
            value = getattr(data, key)
            values[key] = _CLEARED.get(key) if value is None else value
    if data.value_wan is not None and data.value_cny is None:
        values["value_cny"] = data.value_wan * rf.WAN
    # share_mode and open_for_sharing say one thing: the one given decides the other (both: the schema
    # has checked they agree)
    if data.share_mode is not None:
        values["open_for_sharing"] = rf.sharing_from_mode(data.share_mode)
    elif data.open_for_sharing is not None and "share_mode" not in given:
        values["share_mode"] = rf.mode_after_opening(data.open_for_sharing, stored.share_mode if stored else None)
    return values


def _upsert(session: Session, model: type[M], data: BaseModel | dict[str, Any],
            extra: dict[str, Any], approve: bool = True) -> tuple[M, str]:
    values = (data if isinstance(data, dict) else data.model_dump()) | extra
    for key in _KEEP_WHEN_OMITTED:
        if key in values and values[key] is None:
            del values[key]
    obj = session.scalar(select(model).where(model.code == values["code"]))
    if obj is None:
        obj = model(**(_CREATED_AS[approve][model] | values))
        session.add(obj)
        return obj, "created"
    return obj, "updated" if _assign(obj, values) else "unchanged"


def _parse(raw: str) -> CatalogLine:
    try:
        payload = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise ValueError(f"not valid JSON ({exc.msg} at column {exc.colno})") from None
    if not isinstance(payload, dict):
        raise ValueError("a line must be a JSON object with institution, instrument and services")
    try:
        return CatalogLine.model_validate(payload)
    except ValidationError as exc:
        raise ValueError(describe_validation_error(exc)) from None


def _write_line(session: Session, line: CatalogLine, report: ImportReport, approve: bool = True) -> None:
    institution, inst_outcome = _upsert(session, Institution, line.institution, {}, approve)
    session.flush()
    stored = session.scalar(select(Instrument).where(Instrument.code == line.instrument.code))
    instrument, instr_outcome = _upsert(session, Instrument, _instrument_values(line.instrument, stored),
                                        {"institution_id": institution.id}, approve)
    session.flush()
    if assign_platform_code(session, instrument, institution, line.instrument.platform_code) \
            and instr_outcome == "unchanged":
        instr_outcome = "updated"  # a code restored from an export, or one its classification was still owed
    outcomes = [("institution", institution.code, inst_outcome), ("instrument", instrument.code, instr_outcome)]
    touched: set[str] = set()
    for service_in in line.services:
        _, outcome = _upsert(session, Service, service_in, {"instrument_id": instrument.id}, approve)
        outcomes.append(("service", service_in.code, outcome))
        if outcome != "unchanged":
            touched.add(service_in.code)
    # names, city, category and status are part of every listing's index entry
    if inst_outcome == "updated":
        touched.update(services_of_institution(session, institution.id))
    elif instr_outcome == "updated":
        touched.update(session.scalars(select(Service.code).where(Service.instrument_id == instrument.id)))
    mark_stale(session, touched - report.changed_services)
    for entity, code, outcome in outcomes:
        if outcome == "created":  # the audit log says how each object came in
            record(session, entity, code, "imported_approved" if approve else "imported", None, actor_name=IMPORTER)
        # an institution repeats on each of its instruments' lines: count it once
        if (entity, code) not in report.seen:
            report.seen.add((entity, code))
            report.counts[f"{entity}.{outcome}"] += 1
    report.changed_services |= touched


def import_catalog(
    session: Session,
    lines: Iterable[str],
    *,
    strict: bool = False,
    progress: Callable[[int], None] | None = None,
    approve: bool = True,
) -> ImportReport:
    """Upsert every good line; reject bad ones with their number and reason. New objects are live at
    once with approve=True (a trusted bulk load), else they wait for review (入网审核); existing
    objects are updated in place either way (only platform admins import).

    With strict=True the caller must roll back when report.rejected is non-empty
    (this function never commits).
    """
    report = ImportReport()
    for line_no, raw in enumerate(lines, start=1):
        if progress:
            progress(len(raw.encode("utf-8")) if isinstance(raw, str) else 1)
        if not raw.strip():
            continue
        report.lines += 1
        try:
            parsed = _parse(raw)
        except ValueError as exc:
            report.rejected.append(RejectedLine(line_no, str(exc)))
            continue
        if strict and report.rejected:
            continue  # nothing will be written; keep validating to list every bad line
        savepoint = session.begin_nested()
        try:
            _write_line(session, parsed, report, approve)
        except AppError as exc:  # a rule that needs the database (a platform code already taken)
            savepoint.rollback()
            report.rejected.append(RejectedLine(line_no, f"instrument.platform_code: {exc.message}"))
        except SQLAlchemyError as exc:
            savepoint.rollback()
            report.rejected.append(RejectedLine(line_no, f"could not be stored: {exc.__class__.__name__}: {exc.orig if hasattr(exc, 'orig') else exc}"))
        else:
            savepoint.commit()
    return report
