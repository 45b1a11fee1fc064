"""Taking a whole instrument out of sharing (broken, moved, reserved for in-house work) and back:
its listings leave search and come back with it, through the index outbox like every catalog change."""
from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.errors import NotFound
from core.models import Instrument, Role, Service, User
from core.services.catalog.index_outbox import mark_stale
from core.services.people.authz import require_role


def set_instrument_shared(session: Session, actor: User, instrument_code: str, shared: bool) -> Instrument:
    require_role(actor, Role.platform_admin)
    instrument = session.scalar(select(Instrument).where(Instrument.code == instrument_code))
    if instrument is None:
        raise NotFound(f"没有编号为 {instrument_code} 的仪器。", code="instrument_not_found")
    if instrument.open_for_sharing != shared:
        instrument.open_for_sharing = shared
        mark_stale(session, session.scalars(select(Service.code).where(Service.instrument_id == instrument.id)))
    return instrument
