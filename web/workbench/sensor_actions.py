"""更正一段状态: lab staff say what the instrument really was over a past period ("这段是在用").
The times are typed in the platform's time zone; a refusal comes back to the instrument page with
what was typed and the service's reason next to the field it is about."""
from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from flask import flash, g, redirect, request, url_for

from core.errors import InvalidInput
from core.services.usage.corrections import correct_period
from web.pages import local_time
from web.session import LAB_ROLES, platform, requires
from web.workbench.blueprint import workbench_bp
from web.workbench.calendar import FormState
from web.workbench.instruments import render_instrument
from web.workbench.sensor import STATE_WORDS

# which field a refusal of the service is about; anything else is shown under the reason
FIELD_OF = {"period_invalid": "end", "period_in_future": "end", "period_too_long": "end",
            "period_too_old": "start", "state_invalid": "state", "reason_invalid": "reason"}
MAX_TYPED = 1000  # what is kept of a pasted essay to show again; the service refuses past 200 anyway


def parse_local(text: str, label: str, tz: str) -> datetime:
    """A datetime-local value ("2026-05-12T09:00") read in the platform's time zone."""
    if not text:
        raise ValueError(f"请填写{label}。")
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"{label}的格式不对，应如 2026-05-12 09:00。") from None
    if not 2000 <= moment.year <= 2100:
        raise ValueError(f"{label}的年份不对，请检查。")
    return moment.replace(tzinfo=ZoneInfo(tz)) if moment.tzinfo is None else moment


@workbench_bp.post("/instruments/<code>/corrections")
@requires(*LAB_ROLES)
def correct_state(code: str) -> Any:
    values = {key: (request.form.get(key) or "").strip()[:MAX_TYPED] for key in ("start", "end", "state", "reason")}
    form = FormState(values=values)
    tz = platform().settings.orders.timezone
    moments: dict[str, datetime] = {}
    for key, label in (("start", "开始时间"), ("end", "结束时间")):
        try:
            moments[key] = parse_local(values[key], label, tz)
        except ValueError as exc:
            form.errors[key] = str(exc)
    if form.errors:
        return render_instrument(code, form, 400)
    try:
        with platform().transaction() as session:
            correct_period(session, g.user, code, moments["start"], moments["end"], values["state"],
                           values["reason"], tz=platform().settings.orders.timezone)
    except InvalidInput as exc:
        form.errors[FIELD_OF.get(exc.code, "reason")] = exc.message
        return render_instrument(code, form, 400)
    flash(f"已将 {local_time(moments['start'])} – {local_time(moments['end'])} 更正为“{STATE_WORDS[values['state']]}”，"
          "机时与共享率按更正后的状态计算。", "success")
    return redirect(url_for("workbench.instrument", code=code) + "#corrections")
