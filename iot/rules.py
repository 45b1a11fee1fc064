"""Between the ingestion's tracker and the stored records: the platform's IoT settings and the thresholds
stored per instrument turned into the tracker's own rules, and what the tracker learned or amended turned
into the records the usage services write."""
from __future__ import annotations

from datetime import datetime, timezone

from core.models import InstrumentLevels
from core.platform import Platform
from core.services.usage.states import AmendedStretch, LearnedLevels, StateChange
from iot.classifier import Track
from iot.levels import DEFAULT_THRESHOLDS, Thresholds
from iot.state_machine import AdaptiveTrack
from iot.tracker import Amendment, TrackerRules

# why a frozen month gets a new version when the ingestion rewrites part of its history
AMENDMENT_REASONS = {"late_data": "网关缓存的读数迟到补传，重新判读", "sensor": "按传感器读数重新判读（周期性负载或短暂丢包）"}


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


def stretch_of(amendment: Amendment, instrument_id: int) -> AmendedStretch:
    return AmendedStretch(instrument_id, ms_to_datetime(amendment.start_ms), ms_to_datetime(amendment.end_ms),
                          [StateChange(instrument_id, c.state, ms_to_datetime(c.at_ms), c.reason or None)
                           for c in amendment.segments], amendment.source)


def learned_levels_of(track: Track, instrument_id: int) -> LearnedLevels:
    th = track.learned
    if isinstance(track, AdaptiveTrack):
        return LearnedLevels(instrument_id, th.off_below_a, th.on_above_a, th.hysteresis, th.source, th.note,
                             sum(track.hist), list(track.hist), "adaptive", th.bridge_s,
                             track.clock.offset_ms / 1000, track.explain())
    return LearnedLevels(instrument_id, th.off_below_a, th.on_above_a, th.hysteresis, th.source, th.note,
                         sum(track.hist), list(track.hist), "baseline")
