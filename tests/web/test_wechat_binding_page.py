"""微信绑定 as staff meet it: a QR code from the WeChat stand-in, the scan arriving at the real /wechat
endpoint signed as WeChat signs it, the page noticing by itself, and unbinding; in the demo without an
official account, a simulated scan. Also in a real browser."""
from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Callable

import pytest
from flask import Flask

from tests.bot.test_wechat import TOKEN
from tests.people.test_wechat_binding import QR_BASE, _scan
from tests.web.conftest import SHOTS, browser_sign_in, build_web_app, csrf_of, needs_browser, sign_in



@pytest.fixture
def web_app(app_factory: Callable[..., Flask], tmp_path: Path, fake_wechat: str) -> Flask:
    return build_web_app(app_factory(tmp_path, WECHAT_TOKEN=TOKEN, WECHAT_APP_ID="wx-official",
                                     WECHAT_APP_SECRET="secret", WECHAT_API_BASE_URL=fake_wechat,
                                     WECHAT_QRCODE_URL_BASE=QR_BASE))


def _scene(html: str) -> str:
    found = re.search(r'<code id="scene">([^<]+)</code>', html)
    assert found, "the page shows no scene"
    return found.group(1)


def test_staff_bind_by_scanning_and_unbind(web_app: Flask) -> None:
    client = sign_in(web_app.test_client(), "lab", "demo-lab-2026")
    page = client.get("/workbench/wechat").get_data(as_text=True)
    assert "未绑定" in page
    started = client.post("/workbench/wechat/bind", data={"csrf_token": csrf_of(page)}).get_data(as_text=True)
    assert QR_BASE in started and "只能使用一次" in started and "模拟扫码" not in started
    reply = _scan(web_app, _scene(started), "o-official-lab")
    assert "已绑定到平台账号" in reply
    assert "已绑定" in client.get("/workbench/wechat/status").get_data(as_text=True)
    # the scene worked once: a second scan of the same code is told to refresh it
    assert "已绑定到平台账号" not in _scan(web_app, _scene(started), "o-someone-else")
    page = client.get("/workbench/wechat").get_data(as_text=True)
    done = client.post("/workbench/wechat/unbind", data={"csrf_token": csrf_of(page)}, follow_redirects=True)
    assert "已解除微信绑定" in done.get_data(as_text=True) and "未绑定" in done.get_data(as_text=True)


def test_admins_bind_in_the_console_and_the_demo_simulates_the_scan(app: Flask) -> None:
    build_web_app(app)  # demo mode, no official account
    client = sign_in(app.test_client(), "admin", "demo-admin-2026")
    page = client.get("/console/wechat").get_data(as_text=True)
    started = client.post("/console/wechat/bind", data={"csrf_token": csrf_of(page)}).get_data(as_text=True)
    assert "模拟扫码" in started
    done = client.post("/console/wechat/demo-scan", data={"csrf_token": csrf_of(started), "scene": _scene(started)},
                       follow_redirects=True).get_data(as_text=True)
    assert "已绑定（演示）" in done
    # and the lab cannot reach the console's page
    lab = sign_in(app.test_client(), "lab", "demo-lab-2026")
    assert lab.get("/console/wechat").status_code == 403


@needs_browser
def test_binding_in_the_browser_against_the_wechat_stand_in(  # type: ignore[no-untyped-def]
        web_app: Flask, served: str, browser, tmp_path: Path) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    browser_sign_in(browser, served, "lab_staff")
    browser.get(served + "/workbench/wechat")
    assert browser.find_element(By.ID, "bound-badge").text == "未绑定"
    browser.find_element(By.ID, "btn-bind").click()
    scene = WebDriverWait(browser, 10).until(lambda b: b.find_element(By.ID, "scene")).text
    assert QR_BASE in browser.find_element(By.ID, "qr").get_attribute("src")
    browser.save_screenshot(str(tmp_path / "wechat-qr.png"))
    _scan(web_app, scene, "o-official-browser")  # the phone scans; WeChat tells our endpoint
    WebDriverWait(browser, 10).until(lambda b: b.find_element(By.ID, "bound-badge").text == "已绑定")
    browser.save_screenshot(str(tmp_path / "wechat-bound.png"))
    SHOTS.mkdir(exist_ok=True)
    for name in ("wechat-qr", "wechat-bound"):
        shutil.copyfile(tmp_path / f"{name}.png", SHOTS / f"{name}.png")
