"""What the public may see and book: an active listing, approved in review (入网审核), on a shared,
approved instrument of an approved institution. Search, the catalog API and booking ask the same."""
from __future__ import annotations

from typing import Any

from core.models import Institution, Instrument, OnboardingStatus, Service
from core.models.review import APPROVED


def instrument_live() -> list[Any]:
    return [Instrument.open_for_sharing.is_(True), Instrument.review_status == APPROVED,
            Institution.status == OnboardingStatus.approved]


def listing_live() -> list[Any]:
    """WHERE conditions over Service joined to Instrument and Institution."""
    return [Service.active.is_(True), Service.review_status == APPROVED, *instrument_live()]
