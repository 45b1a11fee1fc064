"""Back-office fixtures: an app with the mini catalog and the demo accounts, a browser-like test client
signed in as each role, a live server on 127.0.0.1 and a headless Chromium (Debian's, never downloaded)."""
from __future__ import annotations

import os
import re
import shutil
import tempfile
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.serving import make_server

from tests.conftest import MINI_CATALOG, cli, serving

# the browser tests' screenshots, beside each test's own copy: one folder to look through after a run
SHOTS = Path(os.environ.get("SCREENSHOT_DIR") or Path(tempfile.gettempdir()) / "back-office-screenshots")
CHROMIUM = shutil.which("chromium")
CHROMEDRIVER = shutil.which("chromedriver")
needs_browser = pytest.mark.skipif(not (CHROMIUM and CHROMEDRIVER),
                                   reason="needs Debian's chromium and chromium-driver (see the README's Tests section)")

# the demo accounts (core/services/people/demo_accounts.py) at the mini catalog's first institution
ACCOUNTS = {"lab_staff": ("lab", "demo-lab-2026"), "institution_admin": ("labadmin", "demo-labadmin-2026"),
            "platform_admin": ("admin", "demo-admin-2026"), "expert": ("expert", "demo-expert-2026")}
INSTITUTION = "T-CQ-FOOD"
OTHER_INSTITUTION = "T-HZ-ATC"


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf-token" content="([^"]+)"', html) or re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, "the page carries no CSRF token"
    return found.group(1)


def sign_in(client: FlaskClient, username: str, password: str) -> FlaskClient:
    page = client.get("/login").get_data(as_text=True)
    response = client.post("/login", data={"username": username, "password": password, "csrf_token": csrf_of(page)})
    assert response.status_code == 302, response.get_data(as_text=True)[:500]
    return client


def post_form(client: FlaskClient, url: str, data: dict[str, str] | None = None, page: str | None = None,
              **kwargs: object):  # type: ignore[no-untyped-def]
    """POST a back-office form as a browser would: with the CSRF token of the page it came from."""
    html = client.get(page or url).get_data(as_text=True)
    return client.post(url, data={**(data or {}), "csrf_token": csrf_of(html)}, **kwargs)


def build_web_app(app: Flask) -> Flask:
    assert cli(app, "catalog", "import", "--approve", str(MINI_CATALOG)).exit_code == 0
    result = cli(app, "users", "demo-accounts", "--institution", INSTITUTION)
    assert result.exit_code == 0, result.output
    return app


@pytest.fixture
def web_app(app: Flask) -> Flask:
    return build_web_app(app)


@pytest.fixture
def client_as(web_app: Flask) -> Callable[[str], FlaskClient]:
    def make(role: str) -> FlaskClient:
        client = web_app.test_client()
        return sign_in(client, *ACCOUNTS[role]) if role in ACCOUNTS else client
    return make


@pytest.fixture
def served(web_app: Flask) -> Iterator[str]:
    server = make_server("127.0.0.1", 0, web_app, threaded=True)
    with serving(server):
        yield f"http://127.0.0.1:{server.port}"


@pytest.fixture
def browser(tmp_path: Path):  # type: ignore[no-untyped-def]
    if not (CHROMIUM and CHROMEDRIVER):
        pytest.skip("needs Debian's chromium and chromium-driver")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--window-size=1280,900", "--lang=zh-CN", f"--user-data-dir={tmp_path / 'profile'}"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    yield driver
    driver.quit()


def browser_sign_in(browser, base: str, role: str) -> None:  # type: ignore[no-untyped-def]
    from selenium.webdriver.common.by import By

    browser.get(base + "/login")
    browser.find_element(By.ID, "username").send_keys(ACCOUNTS[role][0])
    browser.find_element(By.ID, "password").send_keys(ACCOUNTS[role][1])
    browser.find_element(By.CSS_SELECTOR, "form button[type=submit]").click()
    # the next page must have arrived: navigating away at once would abort the sign-in's POST
    from selenium.webdriver.support.ui import WebDriverWait

    WebDriverWait(browser, 15).until(lambda b: "/login" not in b.current_url or b.find_elements(By.ID, "login-error"))


def shoot(browser, tmp_path: Path, name: str, width: int = 1280) -> None:  # type: ignore[no-untyped-def]
    """The whole page at this width (the window grown to its height), kept with the test and in SHOTS."""
    browser.set_window_size(width, 900)
    height = browser.execute_script("return document.documentElement.scrollHeight")
    browser.set_window_size(width, max(700, min(int(height) + 140, 4000)))
    path = tmp_path / f"{name}.png"
    assert browser.save_screenshot(str(path))
    SHOTS.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(path, SHOTS / f"{name}.png")
    browser.set_window_size(1280, 900)


def shown(browser: Any, css: str) -> Any:
    """The element once the page the last click asked for has arrived."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(browser, 10).until(expected_conditions.presence_of_element_located((By.CSS_SELECTOR, css)))
