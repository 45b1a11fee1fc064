"""What the ingestion's tracker is told: the platform's IoT settings and the thresholds stored per instrument,
turned into the tracker's own rules."""
from __future__ import annotations

from datetime import datetime, timezone

from core.models import InstrumentLevels
from core.platform import Platform
from iot.levels import DEFAULT_THRESHOLDS, Thresholds
from iot.tracker import TrackerRules


def ms_to_datetime(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, tz=timezone.utc)


def rules_from_settings(platform: Platform) -> TrackerRules:
    iot = platform.settings.iot
    return TrackerRules(min_dwell_ms=int(iot.min_dwell_s * 1000), offline_after=iot.offline_after_intervals,
                        default_interval_ms=int(iot.report_interval_s * 1000), method=iot.method,
                        fault_after_ms=int(iot.sensor_fault_after_s * 1000))


def thresholds_of(row: InstrumentLevels) -> tuple[Thresholds | None, Thresholds | None]:
    """(learned, override) as stored."""
    learned = None if row.source == "default" else Thresholds(
        row.off_below_a, row.on_above_a, row.hysteresis, row.source, row.note, row.bridge_s or 0.0)
    override = None
    if row.override_off_below_a is not None and row.override_on_above_a is not None:
        override = Thresholds(row.override_off_below_a, row.override_on_above_a,
                              row.override_hysteresis or DEFAULT_THRESHOLDS.hysteresis, "override",
                              f"set by {row.override_by}" if row.override_by else "")
    return learned, override
