"""Machine-hours reports for the terminal (the numbers come from
core.services.usage.hours, shared with the API)."""
from __future__ import annotations

from datetime import datetime
from typing import Iterator
from zoneinfo import ZoneInfo

from core.services.usage.hours import AUDIT, MonthUsage

COLUMNS = ("on", "standby", "off", "offline", "unknown")


def _h(value: float) -> str:
    return f"{value:8.2f}"


def render_month(usage: MonthUsage, tz: str) -> Iterator[str]:
    zone = ZoneInfo(tz)
    yield f"{usage.instrument_code} {usage.instrument_name} — {usage.month} (hours, {tz})"
    yield ("date        " + "".join(f"{c:>8}" for c in COLUMNS) + "  external  | measured amended corrected"
           " unknown  fault")
    for day in usage.days:
        if not any(day.hours[c] for c in COLUMNS):
            continue  # days still ahead
        yield (f"{day.day.isoformat()}  " + "".join(_h(day.hours[c]) for c in COLUMNS) + f"  {day.external_hours:8.2f}"
               + "  |" + "".join(_h(day.audit[c]) for c in AUDIT) + _h(day.sensor_fault_hours))
    yield ("total       " + "".join(_h(usage.totals[c]) for c in COLUMNS) + f"  {usage.external_hours:8.2f}  |"
           + "".join(_h(sum(d.audit[c] for d in usage.days)) for c in AUDIT)
           + _h(sum(d.sensor_fault_hours for d in usage.days)))
    yield ("measured: the live readings; amended: readings that came late (a gateway's buffer); corrected: by "
           "lab staff; unknown: offline or no data; fault: offline because the clamp sent zeros")
    rate = "n/a (never on)" if usage.sharing_rate is None else f"{usage.sharing_rate:.1%}"
    yield (f"on {usage.totals['on']:.2f} h = external service {usage.external_hours:.2f} h "
           f"+ internal use {usage.internal_hours:.2f} h; sharing rate {rate}")
    if usage.slots:
        yield f"booked slots: {len(usage.slots)}"
        for slot in usage.slots:
            start = slot.slot_start.astimezone(zone)
            end = slot.slot_end.astimezone(zone)
            flag = "  POSSIBLE NO-SHOW: confirm with the customer" if slot.possible_no_show else ""
            unobserved = f", {slot.unobserved_minutes:.0f} min without sensor data" if slot.unobserved_minutes >= 1 else ""
            yield (f"  {slot.number} {slot.status:<16} {_fmt(start)}–{end:%H:%M}  on {slot.on_minutes:.0f} min"
                   f"{unobserved}{flag}")


def _fmt(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M")
