"""Search upkeep in the console as an admin meets it: the synonym dictionary edited with a try box that
shows the results before and after, the index version with its backlog and a rebuild run by the job
outbox with its progress, and the unmet needs grouped by meaning — in the test client and in Chromium."""
from __future__ import annotations

import re
import threading
import time
from pathlib import Path
from typing import Callable

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from core.models import Job
from core.models.job import JOB_DONE
from core.services.catalog.reindex import REINDEX_JOB
from core.services.catalog.unmet_demand import record_unmet_demand
from tests.conftest import cli
from tests.web.conftest import browser_sign_in, build_web_app, csrf_of, needs_browser, post_form, shoot

PAGES = ("/console/synonyms", "/console/index", "/console/unmet")


@pytest.fixture
def web_app(app_factory: Callable[..., Flask], tmp_path: Path) -> Flask:
    application = build_web_app(app_factory(tmp_path / "app", RATE_LIMIT_LOGIN_PER_IP="100000"))
    assert cli(application, "search", "reindex").exit_code == 0
    return application


def run_reindex_jobs(app: Flask, pause: float = 0.0) -> list[str]:
    """What a worker does with the rebuild's outbox rows, in this thread: each run until none is left."""
    from workers.outbox import run_job
    from workers.runtime import WorkerRuntime, configure

    platform = app.extensions["platform"]
    configure(WorkerRuntime(platform, app.extensions["search"]))
    results = []
    for _ in range(50):
        with platform.transaction(write=False) as session:
            ids = session.scalars(select(Job.id).where(Job.name == REINDEX_JOB, Job.status != JOB_DONE)).all()
        if not ids:
            return results
        results += [run_job(job_id) for job_id in ids]
        time.sleep(pause)
    raise AssertionError("the rebuild never finished")


@pytest.mark.parametrize("page", PAGES)
def test_search_pages_are_for_platform_admins(client_as: Callable[[str], FlaskClient], page: str) -> None:
    anonymous = client_as("anonymous").get(page)
    assert anonymous.status_code == 302 and "/login?next=" + page in anonymous.headers["Location"]
    refused = client_as("lab_staff").get(page)
    assert refused.status_code == 403 and "没有权限" in refused.get_data(as_text=True)
    assert client_as("platform_admin").get(page).status_code == 200


# ---- synonyms -------------------------------------------------------------------------------------

def test_the_try_box_shows_the_results_before_and_after_an_edit_without_saving(
        client_as: Callable[[str], FlaskClient]) -> None:
    admin = client_as("platform_admin")
    page = admin.get("/console/synonyms").get_data(as_text=True)
    answer = admin.post("/console/synonyms/try", data={"term": "大力丸", "expansions": "克伦特罗\n莱克多巴胺",
                                                        "try_q": "牛肉有没有大力丸"},
                        headers={"X-CSRFToken": csrf_of(page), "HX-Request": "true"})
    html = answer.get_data(as_text=True)
    assert answer.status_code == 200 and "结果有变化" in html
    before, after = html.split('id="try-after"')
    assert "没有足够匹配" in before and "克伦特罗" in after and 'data-code="T-CQ-S003"' in after
    # nothing was saved
    assert "没有包含「大力丸」的同义词" in admin.get("/console/synonyms?q=大力丸").get_data(as_text=True)


def test_an_admin_adds_edits_finds_and_removes_a_synonym(client_as: Callable[[str], FlaskClient]) -> None:
    admin = client_as("platform_admin")
    saved = post_form(admin, "/console/synonyms", {"term": "大力丸", "expansions": "克伦特罗，莱克多巴胺"},
                      follow_redirects=True)
    html = saved.get_data(as_text=True)
    assert "已保存同义词：大力丸 → 克伦特罗 / 莱克多巴胺" in html
    found = admin.get("/console/synonyms?q=莱克多巴胺").get_data(as_text=True)
    assert 'data-term="大力丸"' in found
    edit = admin.get("/console/synonyms?term=大力丸").get_data(as_text=True)
    assert re.search(r'<textarea[^>]*name="expansions"[^>]*>克伦特罗\n莱克多巴胺</textarea>', edit)
    post_form(admin, "/console/synonyms", {"term": "大力丸", "expansions": "克伦特罗"})
    assert "克伦特罗</td>" in admin.get("/console/synonyms?q=大力丸").get_data(as_text=True)
    removed = post_form(admin, "/console/synonyms/remove", {"term": "大力丸"}, page="/console/synonyms",
                        follow_redirects=True).get_data(as_text=True)
    assert "已删除同义词「大力丸」" in removed and 'data-term="大力丸"' not in removed
    again = post_form(admin, "/console/synonyms/remove", {"term": "大力丸"}, page="/console/synonyms",
                      follow_redirects=True).get_data(as_text=True)
    assert "没有同义词" in again and "Traceback" not in again


def test_a_synonym_without_expansions_is_refused_in_chinese_and_keeps_the_input(
        client_as: Callable[[str], FlaskClient]) -> None:
    admin = client_as("platform_admin")
    answer = post_form(admin, "/console/synonyms", {"term": "大力丸", "expansions": "  "})
    html = answer.get_data(as_text=True)
    assert answer.status_code == 400 and "请至少填写一个扩展词" in html and 'value="大力丸"' in html


# ---- the index --------------------------------------------------------------------------------------

def test_a_reindex_started_from_the_page_runs_as_a_job_and_reports_its_progress(web_app: Flask,
        client_as: Callable[[str], FlaskClient]) -> None:
    admin = client_as("platform_admin")
    engine = web_app.extensions["search"]
    before = engine.store.current_manifest().version
    page = admin.get("/console/index").get_data(as_text=True)
    assert before in page and 'id="index-docs">8<' in page  # the mini catalog's searchable listings

    form_key = re.search(r'name="form_key" value="([0-9a-f]{32})"', page.split("reindex-button")[0]).group(1)
    data = {"csrf_token": csrf_of(page), "form_key": form_key}
    started = admin.post("/console/index/reindex", data=data, follow_redirects=True).get_data(as_text=True)
    assert "已开始重建搜索索引" in started and "排队中" in started and 'hx-trigger="every 1s"' in started
    # the same form sent twice starts one rebuild; another one while it runs is refused in Chinese
    assert admin.post("/console/index/reindex", data=data).status_code == 303
    page = admin.get("/console/index").get_data(as_text=True)
    refused = admin.post("/console/index/reindex", data={"csrf_token": csrf_of(page)}, follow_redirects=True)
    assert "已有一次索引重建正在进行" in refused.get_data(as_text=True)
    with web_app.extensions["platform"].transaction(write=False) as session:
        assert len(session.scalars(select(Job).where(Job.name == REINDEX_JOB)).all()) == 1

    results = run_reindex_jobs(web_app)
    after = engine.store.current_manifest().version
    assert after != before and results[-1] == after
    progress = admin.get("/console/index/progress", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert f"完成：版本 {after}" in progress and "100%" in progress and "every 1s" not in progress
    assert 'id="index-summary" hx-swap-oob="true"' in progress and after in progress
    assert engine.search("苏丹红", 5).version == after


def test_a_long_rebuild_goes_on_in_several_runs(web_app: Flask, client_as: Callable[[str], FlaskClient],
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    import workers.reindex as job

    monkeypatch.setattr(job, "CHUNK_SECONDS", 0.0)  # every run stops after one batch
    monkeypatch.setattr(job, "ENCODE_BATCH", 3)
    post_form(client_as("platform_admin"), "/console/index/reindex", page="/console/index")
    results = run_reindex_jobs(web_app)
    assert results.count("continues") >= 3 and results[-1].startswith("v")
    assert web_app.extensions["search"].index().live_docs == 8


def test_the_backlog_shows_catalog_changes_waiting_for_the_index(web_app: Flask,
                                                                 client_as: Callable[[str], FlaskClient]) -> None:
    admin = client_as("platform_admin")
    post_form(admin, "/console/catalog/services/T-HZ-S002/active", {"active": "0"}, page="/console/catalog")
    page = admin.get("/console/index").get_data(as_text=True)
    assert 'id="backlog-count" class="fw-semibold">1<' in page and "T-HZ-S002" in page
    post_form(admin, "/console/index/reindex", page="/console/index")
    run_reindex_jobs(web_app)
    assert 'id="backlog-count">0<' in admin.get("/console/index").get_data(as_text=True)
    assert "T-HZ-S002" not in [h.doc.code for h in web_app.extensions["search"].search("药粉是哪种晶型", 5).hits]


# ---- unmet needs -------------------------------------------------------------------------------------

def _ask(app: Flask, *queries: str) -> None:
    with app.extensions["platform"].transaction() as session:
        for query in queries:
            record_unmet_demand(session, query, "wechat", city="重庆")


def test_unmet_needs_are_grouped_by_meaning_and_can_be_marked_out_of_scope(web_app: Flask,
        client_as: Callable[[str], FlaskClient]) -> None:
    _ask(web_app, "辣条里的防腐剂", "辣条里的防腐剂", "辣条防腐剂检测", "辣条有没有防腐剂", "火星土壤成分")
    admin = client_as("platform_admin")
    page = admin.get("/console/unmet").get_data(as_text=True)
    groups = page.split('class="card h-100 unmet-group"')[1:]
    assert len(groups) == 2
    assert "辣条里的防腐剂" in groups[0] and "4 次" in groups[0] and "辣条防腐剂检测" in groups[0]
    assert "火星土壤成分" in groups[1] and "1 次" in groups[1]
    assert "添加同义词" in groups[0] and "/console/synonyms?term=" in groups[0]

    hidden = post_form(admin, "/console/unmet/out-of-scope", {"text": "火星土壤成分"}, page="/console/unmet",
                       follow_redirects=True).get_data(as_text=True)
    assert "标记为不在服务范围" in hidden
    assert len(hidden.split('class="card h-100 unmet-group"')[1:]) == 1 and 'id="unmet-hidden"' in hidden
    # the same need in other words stays hidden
    _ask(web_app, "火星土壤的成分")
    assert "火星土壤的成分" not in admin.get("/console/unmet").get_data(as_text=True).split("unmet-hidden")[0]
    restored = post_form(admin, "/console/unmet/restore", {"text": "火星土壤成分"}, page="/console/unmet",
                         follow_redirects=True).get_data(as_text=True)
    assert len(restored.split('class="card h-100 unmet-group"')[1:]) == 2


# ---- in a browser ------------------------------------------------------------------------------------



@needs_browser
def test_an_admin_tries_a_synonym_and_watches_a_rebuild_finish(web_app: Flask, served: str, browser,  # type: ignore[no-untyped-def]
                                                                tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as seen
    from selenium.webdriver.support.ui import WebDriverWait

    wait = WebDriverWait(browser, 15)
    browser_sign_in(browser, served, "platform_admin")
    wait.until(seen.url_contains("/console/dashboard"))
    browser.get(served + "/console/synonyms")
    browser.find_element(By.ID, "term").send_keys("大力丸")
    browser.find_element(By.ID, "expansions").send_keys("克伦特罗\n莱克多巴胺")
    browser.find_element(By.ID, "try_q").send_keys("牛肉有没有大力丸")
    browser.find_element(By.ID, "try-button").click()
    wait.until(seen.text_to_be_present_in_element((By.ID, "try-result"), "结果有变化"))
    assert "动物源性食品中克伦特罗" in browser.find_element(By.ID, "try-after").text
    assert "没有足够匹配" in browser.find_element(By.ID, "try-before").text
    shoot(browser, tmp_path, "console-synonyms")
    browser.find_element(By.CSS_SELECTOR, "#synonym-form button[type=submit]").click()
    wait.until(seen.text_to_be_present_in_element((By.TAG_NAME, "main"), "已保存同义词：大力丸"))

    browser.get(served + "/console/index")
    before = browser.find_element(By.ID, "index-version").text
    browser.find_element(By.ID, "reindex-button").click()
    wait.until(seen.text_to_be_present_in_element((By.ID, "reindex-stage"), "排队中"))
    shoot(browser, tmp_path, "console-index-queued")
    import workers.reindex as job

    monkeypatch.setattr(job, "CHUNK_SECONDS", 0.0)  # small runs, a second apart: the bar moves as one watches
    monkeypatch.setattr(job, "ENCODE_BATCH", 2)
    worker = threading.Thread(target=run_reindex_jobs, args=(web_app, 1.2))
    worker.start()  # the job runs here while the page polls
    wait.until(lambda b: "编码服务项目" in b.find_element(By.ID, "reindex-stage").text
               and 0 < int(b.find_element(By.CSS_SELECTOR, "#reindex-progress .progress-bar").text.rstrip("%")) < 100)
    shoot(browser, tmp_path, "console-index-progress")
    worker.join(60)
    wait.until(seen.text_to_be_present_in_element((By.ID, "reindex-stage"), "完成：版本"))
    bar = browser.find_element(By.CSS_SELECTOR, "#reindex-progress .progress-bar")
    assert bar.text == "100%"
    wait.until(lambda b: b.find_element(By.ID, "index-version").text != before)
    assert browser.find_element(By.ID, "reindex-button").is_enabled()
    shoot(browser, tmp_path, "console-index")

    _ask(web_app, "辣条里的防腐剂", "辣条防腐剂检测", "火星土壤成分")
    browser.get(served + "/console/unmet")
    assert len(browser.find_elements(By.CSS_SELECTOR, ".unmet-group")) == 2
    shoot(browser, tmp_path, "console-unmet")
