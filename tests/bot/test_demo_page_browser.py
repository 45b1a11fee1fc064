"""The demo chat page in a real headless Chromium: type a need, see recommendations."""
import shutil
from pathlib import Path
from typing import Iterator

import pytest
from flask import Flask
from werkzeug.serving import make_server

from tests.conftest import serving

CHROMIUM = shutil.which("chromium")
CHROMEDRIVER = shutil.which("chromedriver")
pytestmark = pytest.mark.skipif(
    not (CHROMIUM and CHROMEDRIVER),
    reason="needs Debian's chromium and chromium-driver (see the README's Tests section)",
)


@pytest.fixture
def served(shared_catalog_app: Flask) -> Iterator[str]:
    server = make_server("127.0.0.1", 0, shared_catalog_app, threaded=True)
    with serving(server):
        yield f"http://127.0.0.1:{server.port}"


@pytest.fixture
def browser(tmp_path: Path):  # type: ignore[no-untyped-def]
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--window-size=420,860", f"--user-data-dir={tmp_path / 'profile'}"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    yield driver
    driver.quit()


def test_type_a_need_and_see_recommendations(served: str, browser, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    browser.get(served + "/demo/chat")
    assert "说说您想检测什么" in browser.page_source
    box = browser.find_element(By.ID, "t")
    box.send_keys("辣椒粉里有没有苏丹红")
    browser.find_element(By.CSS_SELECTOR, "form button").click()
    cards = WebDriverWait(browser, 20).until(ec.presence_of_all_elements_located((By.CSS_SELECTOR, ".card")))
    text = " ".join(c.text for c in cards)
    assert "苏丹红" in text and "¥" in text and "预约" in text
    browser.save_screenshot(str(tmp_path / "demo-chat.png"))

    # the conversation continues in the same browser session
    box.send_keys("第1个")
    browser.find_element(By.CSS_SELECTOR, "form button").click()
    WebDriverWait(browser, 20).until(lambda d: "样品要求" in d.find_element(By.ID, "log").text or "依据标准" in d.find_element(By.ID, "log").text)
