"""The rules of management by data (idle report, machine-hour quotas, purchase check): every
threshold is a setting because provinces differ; the defaults follow the public national rules
(开放共享评价考核实施细则 2026, 教育部 定额机时, the national and Guangdong 查重评议 rules)."""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Mapping

# 定额机时 a year: 教育部 counts 1,400 h for a general instrument and 800 h for a special-purpose one
QUOTA_GENERAL_HOURS = 1400.0
QUOTA_SPECIAL_HOURS = 800.0
# classification codes (catalog/classification.py) whose instruments are special-purpose by default:
# ocean, earth and atmosphere sounding, astronomy, process-experiment equipment
SPECIAL_CLASSES = ("05", "06", "07", "08", "12")


@dataclass(frozen=True)
class DataRules:
    idle_min_value_cny: float = 300_000.0  # IDLE_MIN_VALUE_CNY: cheaper instruments are not listed
    idle_below_quota_share: float = 0.5  # below half of the pro-rated quota is idle
    idle_unused_after_days: int = 365  # in service longer than this and never used
    # a sensor that saw less than this share of the period is "silent" (its hours are not the whole truth)
    sensor_silent_below_share: float = 0.5
    idle_report_hour: int = 6  # local hour on the 1st of an odd month when the scheduled report runs
    # 定额机时 a year per classification-code prefix; the longest matching prefix wins
    quota_hours: Mapping[str, float] = field(default_factory=lambda: {c: QUOTA_SPECIAL_HOURS for c in SPECIAL_CLASSES})
    quota_default_hours: float = QUOTA_GENERAL_HOURS
    purchase_check_min_cny: float = 500_000.0  # PURCHASE_CHECK_MIN_CNY
    saturated_hours_year: float = 1200.0  # a similar instrument this busy cannot take more work
    saturated_utilisation: float = 0.85
    national_effective_hours: float = 1599.0  # the 2025 national round's averages per instrument
    national_external_hours: float = 273.0

    def quota_for(self, classification_code: str | None) -> float:
        """Yearly 定额机时 of an instrument of this classification."""
        code = classification_code or ""
        best = max((p for p in self.quota_hours if code.startswith(p)), key=len, default=None)
        return self.quota_hours[best] if best is not None else self.quota_default_hours


def _number(env: Mapping[str, str], name: str, default: float, minimum: float = 0.0) -> float:
    raw = (env.get(name) or "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ValueError(f"设置 {name} 须为数字，现为 {raw!r}。") from None
    if not math.isfinite(value) or value < minimum:
        raise ValueError(f"设置 {name} 须为不小于 {minimum:g} 的数字，现为 {raw!r}。")
    return value


def _quota_map(env: Mapping[str, str]) -> dict[str, float]:
    """QUOTA_HOURS_BY_CLASS="05:800,0101:1600": classification prefix → hours a year."""
    raw = (env.get("QUOTA_HOURS_BY_CLASS") or "").strip()
    if not raw:
        return {c: QUOTA_SPECIAL_HOURS for c in SPECIAL_CLASSES}
    quotas = {}
    for part in raw.split(","):
        prefix, _, hours = part.partition(":")
        if not prefix.strip().isdigit():
            raise ValueError(f"设置 QUOTA_HOURS_BY_CLASS 的每项须为 分类编码:机时，现有 {part!r}。")
        quotas[prefix.strip()] = _number({"h": hours}, "QUOTA_HOURS_BY_CLASS", 0.0, minimum=1.0)
    return quotas


def load_data_rules(env: Mapping[str, str]) -> DataRules:
    share = _number(env, "IDLE_BELOW_QUOTA_SHARE", 0.5)
    silent = _number(env, "SENSOR_SILENT_BELOW_SHARE", 0.5)
    hour = int(_number(env, "IDLE_REPORT_HOUR", 6))
    if share > 1 or silent > 1 or hour > 23:
        raise ValueError("设置 IDLE_BELOW_QUOTA_SHARE、SENSOR_SILENT_BELOW_SHARE 须在 0 到 1 之间，IDLE_REPORT_HOUR 在 0 到 23 之间。")
    return DataRules(
        idle_min_value_cny=_number(env, "IDLE_MIN_VALUE_CNY", 300_000.0),
        idle_below_quota_share=share,
        idle_unused_after_days=int(_number(env, "IDLE_UNUSED_AFTER_DAYS", 365, minimum=1)),
        sensor_silent_below_share=silent,
        idle_report_hour=hour,
        quota_hours=_quota_map(env),
        quota_default_hours=_number(env, "QUOTA_HOURS_DEFAULT", QUOTA_GENERAL_HOURS, minimum=1.0),
        purchase_check_min_cny=_number(env, "PURCHASE_CHECK_MIN_CNY", 500_000.0),
        saturated_hours_year=_number(env, "PURCHASE_SATURATED_HOURS", 1200.0),
        saturated_utilisation=_number(env, "PURCHASE_SATURATED_UTILISATION", 0.85),
        national_effective_hours=_number(env, "NATIONAL_AVG_EFFECTIVE_HOURS", 1599.0),
        national_external_hours=_number(env, "NATIONAL_AVG_EXTERNAL_HOURS", 273.0),
    )
