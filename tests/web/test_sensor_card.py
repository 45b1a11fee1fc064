"""The instrument page's sensor part as lab staff meet it: how the current sensor is read, in Chinese
(thresholds, hysteresis, a heater's duty cycle, the gateway's clock, when it was learned and from how
many readings, the method, an admin's override); the form that corrects a past period, its refusals
keeping what was typed, and the list of corrections; a clamp reading zero named as such."""
from __future__ import annotations

from datetime import datetime, time, timedelta, timezone
from pathlib import Path
from typing import Any, Callable
from zoneinfo import ZoneInfo

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from core.db import unit_of_work
from core.models import Instrument, InstrumentLevels, InstrumentStateInterval, UsageCorrection
from core.models._types import utcnow
from tests.web.conftest import browser_sign_in, post_form, shoot, shown

HPLC, LCMS = "T-CQ-FOOD-0001", "T-CQ-FOOD-0002"
ZONE = ZoneInfo("Asia/Shanghai")
PAGE = f"/workbench/instruments/{HPLC}"
FORM = f"{PAGE}/corrections"


@pytest.fixture
def sensed(web_app: Flask) -> dict[str, Any]:
    """HPLC: off since three days ago, its levels learned (a cycling heater, a gateway 12 s fast);
    LC-MS: on, then offline because its clamp reads zero."""
    now = utcnow()
    yesterday = now.astimezone(ZONE).date() - timedelta(days=1)
    with unit_of_work(web_app.extensions["platform"].session_factory) as session:
        ids = dict(session.execute(select(Instrument.code, Instrument.id).where(Instrument.code.in_([HPLC, LCMS]))).all())
        session.add(InstrumentStateInterval(instrument_id=ids[HPLC], state="off", start_at=now - timedelta(days=3)))
        session.add(InstrumentStateInterval(instrument_id=ids[LCMS], state="on", start_at=now - timedelta(hours=5),
                                            end_at=now - timedelta(hours=1)))
        session.add(InstrumentStateInterval(instrument_id=ids[LCMS], state="offline", reason="sensor_fault",
                                            start_at=now - timedelta(hours=1)))
        session.add(InstrumentLevels(
            instrument_id=ids[HPLC], off_below_a=0.2, on_above_a=3.1, hysteresis=1.3, source="learned",
            note="levels off 0.05 A, standby 0.8 A, on 6.2 A; duty cycling: 9 trains, period ~240 s, duty ~35%",
            samples=1234, histogram=[], learned_at=datetime(2026, 3, 2, 1, 30, tzinfo=timezone.utc),
            method="adaptive", bridge_s=270.0, clock_offset_s=12.0,
            explain="duty cycling: 9 trains, period ~240 s, duty ~35%; clock: 12 s fast, corrected"))
    return {"yesterday": yesterday}


def local(day: Any, hour: int) -> str:
    return datetime.combine(day, time(hour), ZONE).strftime("%Y-%m-%dT%H:%M")


def test_the_card_explains_the_sensor_model_in_chinese(sensed: dict[str, Any],
                                                       client_as: Callable[[str], FlaskClient]) -> None:
    html = client_as("lab_staff").get(PAGE).get_data(as_text=True)
    card = html[html.index('id="sensor-model"'):html.index('id="corrections"')]
    assert "传感器判读" in card and "方法：自适应" in card
    assert "关机 &lt; 0.2 A，运行 &gt; 3.1 A，介于两者之间为待机" in card
    assert "×1.30" in card
    assert "识别出三档电流：关机 0.05 A、待机 0.8 A、运行 6.2 A" in card
    assert "识别为周期性负载（如恒温加热）：周期约 240 秒（约 4 分钟），占空比约 35%" in card
    assert "两次通电之间的间隙不超过 270 秒（约 4 分钟），仍算运行" in card
    assert "网关时钟快 12 秒，已自动校正" in card
    assert "2026-03-02 09:30" in card  # learned at 01:30 UTC, shown in Beijing time
    assert "1234 个稳定读数" in card and "无，使用学习结果" in card
    form = html[html.index('id="correction-form"'):]
    assert '<option value="on" selected>运行</option>' in form and "待机" in form and "关机" in form
    assert "还没有更正记录。" in html


def test_a_correction_through_the_form_shows_in_the_list(sensed: dict[str, Any],
                                                         client_as: Callable[[str], FlaskClient]) -> None:
    client, day = client_as("lab_staff"), sensed["yesterday"]
    answer = post_form(client, FORM, {"start": local(day, 9), "end": local(day, 12), "state": "on",
                                      "reason": "做样品测试，钳表读数偏低"}, page=PAGE)
    assert answer.status_code == 302 and answer.headers["Location"].endswith(f"{PAGE}#corrections")
    html = client.get(PAGE).get_data(as_text=True)
    shown_day = day.isoformat()
    assert f"已将 {shown_day} 09:00 – {shown_day} 12:00 更正为“运行”" in html
    listed = html[html.index('id="correction-list"'):]
    assert "实验室人员" in listed and "做样品测试，钳表读数偏低" in listed
    assert f"{shown_day} 09:00 – {shown_day} 12:00" in listed and "<td class=\"text-nowrap\">运行</td>" in listed
    # the seven-day table counts the three corrected hours as 运行
    row = html[html.index(f"<td class=\"text-start\">{shown_day}</td>"):]
    assert row.split("</tr>")[0].count("<td>3.00</td>") == 1
    # and the month's figures say where those hours come from
    month_page = client.get(f"{PAGE}?month={day:%Y-%m}").get_data(as_text=True)
    audit = month_page[month_page.index('id="month-audit"'):].split("</p>")[0]
    assert "人员更正 3.0 小时" in audit and "传感器实测" in audit


@pytest.mark.parametrize(("fields", "message"), [
    ({"start": "", "end": "T12", "reason": "这段是在用"}, "请填写开始时间。"),
    ({"start": "T12", "end": "T09", "reason": "这段是在用"}, "结束时间须晚于开始时间。"),
    ({"start": "T09", "end": "T12", "reason": "好"}, "请用 2–200 个字说明更正的原因"),
])
def test_a_refused_correction_says_why_and_keeps_what_was_typed(
        sensed: dict[str, Any], web_app: Flask, client_as: Callable[[str], FlaskClient], fields: dict[str, str],
        message: str) -> None:
    day = sensed["yesterday"]
    data = {key: (local(day, int(value[1:])) if value.startswith("T") else value) for key, value in fields.items()}
    answer = post_form(client_as("lab_staff"), FORM, {**data, "state": "standby"}, page=PAGE)
    html = answer.get_data(as_text=True)
    assert answer.status_code == 400 and message in html
    form = html[html.index('id="correction-form"'):]
    assert f'value="{data["reason"]}"' in form and '<option value="standby" selected>待机</option>' in form
    if data["start"]:
        assert f'value="{data["start"]}"' in form
    with unit_of_work(web_app.extensions["platform"].session_factory) as session:
        assert session.scalar(select(func.count()).select_from(UsageCorrection)) == 0


def test_a_clamp_reading_zero_is_named_as_the_offline_reason(sensed: dict[str, Any],
                                                             client_as: Callable[[str], FlaskClient]) -> None:
    client = client_as("lab_staff")
    for page in ("/workbench/instruments", f"/workbench/instruments/{LCMS}"):
        html = client.get(page).get_data(as_text=True)
        assert "传感器读数为零（可能钳表脱落或传感器损坏）；离线前为运行" in html, page
        assert "上报周期未收到" not in html


def test_the_sensor_card_in_a_browser(sensed: dict[str, Any], served: str, browser, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from selenium.webdriver.common.by import By

    browser_sign_in(browser, served, "lab_staff")
    browser.get(served + PAGE)
    shown(browser, "#sensor-model")
    day = sensed["yesterday"]
    browser.find_element(By.ID, "correction-reason").send_keys("做样品测试，钳表读数偏低")
    # datetime-local takes typed digits in the browser's locale order; set the values as the picker would
    for field, hour in (("correction-start", 9), ("correction-end", 12)):
        browser.execute_script("arguments[0].value = arguments[1]", browser.find_element(By.ID, field),
                               local(day, hour))
    button = browser.find_element(By.ID, "correct-state")
    # the form is submitted as its button would (the chart's canvas lies over the button in headless layout)
    browser.execute_script("arguments[0].form.requestSubmit(arguments[0])", button)
    assert "做样品测试" in shown(browser, "#correction-list").text
    browser.execute_script("document.getElementById('sensor-model').scrollIntoView()")
    shoot(browser, tmp_path, "workbench-sensor-card")
