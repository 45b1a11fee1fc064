"""The instrument page's sensor part: how the current sensor is read (the learned model in words),
the form that corrects a past period's state, and the latest corrections. The form's handler is in
sensor_actions.py; instruments.py puts this card on the instrument page."""
from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from core.models import User
from core.services.usage.corrections import CORRECTABLE_STATES, corrections_of, sensor_model
from core.services.usage.label_check import MIN_SLOTS, WINDOW, order_evidence
from core.services.usage.timeline import viewable_instrument
from web.workbench.calendar import FormState

STATE_WORDS = {"on": "运行", "standby": "待机", "off": "关机"}
SOURCE_LABELS = {"default": "默认阈值（尚未学到）", "provisional": "初步学习（电流水平未齐）", "learned": "已学习"}


def amps(value: float | None) -> str:
    """Amperes with three significant figures, as the ingestion learns them (0.15, 2.4, 13.2)."""
    return "—" if value is None else f"{value:.3g}"


def duration(seconds: float | None) -> str:
    if not seconds:
        return "—"
    whole = round(seconds)
    if whole < 120:
        return f"{whole} 秒"
    return f"{whole} 秒（约 {whole / 60:.0f} 分钟）"


def blank_correction_form() -> FormState:
    return FormState(values={"state": "on"})  # "这段是在用" is by far the most common correction


def sensor_card(session: Session, user: User, code: str, form: FormState | None = None) -> dict[str, Any]:
    """What _sensor_model.html and _usage_corrections.html render, read in the page's transaction."""
    model = sensor_model(session, user, code)
    evidence = order_evidence(session, viewable_instrument(session, user, code).id)
    rows = [{"by": c.created_by_name, "at": c.created_at, "start": c.start_at, "end": c.end_at,
             "state": STATE_WORDS.get(c.state, c.state), "reason": c.reason}
            for c in corrections_of(session, user, code)]
    return {"sensor": model, "sensor_source": SOURCE_LABELS.get(model.source, model.source),
            "sensor_bridge": duration(model.bridge_s), "sensor_period": duration(model.cycle.period_s
                                                                                if model.cycle else None),
            "amps": amps, "corrections": rows, "correction_form": form or blank_correction_form(),
            "correction_states": [(s, STATE_WORDS[s]) for s in CORRECTABLE_STATES],
            "evidence": evidence, "evidence_days": WINDOW.days, "evidence_min": MIN_SLOTS}
