"""用户 and 后台任务 as an admin meets them: accounts listed and found, staff created for an institution,
disabled, reset (the person is signed out at once) and given another role, who bound WeChat; the job
outbox with its redrive, and rq-dashboard behind the same sign-in — in the test client and in Chromium."""
from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Callable

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select, update

from core.models import Job, User
from core.queue import SEND_NOTIFICATION_JOB, defer, enqueue_index_sync
from tests.web.conftest import ACCOUNTS, SHOTS, browser_sign_in, build_web_app, csrf_of, needs_browser, post_form, shoot, sign_in

USERS = "/console/users"


@pytest.fixture
def web_app(app_factory: Callable[..., Flask], tmp_path: Path) -> Flask:
    return build_web_app(app_factory(tmp_path / "app", RATE_LIMIT_LOGIN_PER_IP="100000"))


def user_id(app: Flask, username: str) -> int:
    with app.extensions["platform"].transaction(write=False) as session:
        return int(session.scalar(select(User.id).where(User.username == username)))


def new_staff(admin: FlaskClient, **fields: str):  # type: ignore[no-untyped-def]
    data = {"username": "zhang3", "display_name": "张三", "institution": "T-CQ-FOOD", "role": "lab_staff",
            "password": "first-pass-123", **fields}
    return post_form(admin, USERS, data)


@pytest.mark.parametrize("page", (USERS, "/console/jobs", "/console/jobs/rq/"))
def test_people_and_jobs_pages_are_for_platform_admins(client_as: Callable[[str], FlaskClient], page: str) -> None:
    anonymous = client_as("anonymous").get(page)
    assert anonymous.status_code == 302 and "/login?next=" + page.rstrip("/") in anonymous.headers["Location"]
    for role in ("lab_staff", "institution_admin"):
        refused = client_as(role).get(page)
        assert refused.status_code == 403 and "没有权限" in refused.get_data(as_text=True)
    assert client_as("platform_admin").get(page).status_code == 200


def test_accounts_are_listed_found_and_show_who_bound_wechat(web_app: Flask,
                                                             client_as: Callable[[str], FlaskClient]) -> None:
    with web_app.extensions["platform"].transaction() as session:
        session.execute(update(User).where(User.username == "lab").values(official_openid="o-official-lab"))
    admin = client_as("platform_admin")
    page = admin.get(USERS).get_data(as_text=True)
    rows = dict(re.findall(r'<tr data-username="(\w+)">(.*?)</tr>', page, re.S))
    assert {"lab", "labadmin", "admin"} <= set(rows)
    assert "已绑定" in rows["lab"] and "未绑定" in rows["labadmin"] and "实验室人员" in rows["lab"]
    found = admin.get(f"{USERS}?q=labad").get_data(as_text=True)
    assert re.findall(r'<tr data-username="(\w+)"', found) == ["labadmin"]
    admins = admin.get(f"{USERS}?role=platform_admin").get_data(as_text=True)
    assert re.findall(r'<tr data-username="(\w+)"', admins) == ["admin"]


def test_an_admin_creates_a_staff_account_that_can_sign_in(web_app: Flask,
                                                           client_as: Callable[[str], FlaskClient]) -> None:
    admin = client_as("platform_admin")
    page = admin.get(USERS).get_data(as_text=True)
    form_key = re.search(r'name="form_key" value="(\w+)"', page).group(1)
    data = {"csrf_token": csrf_of(page), "form_key": form_key, "username": "zhang3", "display_name": "张三",
            "institution": "T-CQ-FOOD", "role": "institution_admin", "password": "first-pass-123"}
    created = admin.post(USERS, data=data)
    assert created.status_code == 303 and "/console/users/" in created.headers["Location"]
    again = admin.post(USERS, data=data)  # a double click: the same answer, one account
    assert again.headers["Location"] == created.headers["Location"]
    detail = admin.get(created.headers["Location"]).get_data(as_text=True)
    assert "已创建机构管理员账号 zhang3" in detail and "机构管理员" in detail
    with web_app.extensions["platform"].transaction(write=False) as session:
        assert session.scalar(select(func.count(User.id)).where(User.username == "zhang3")) == 1
    staff = sign_in(web_app.test_client(), "zhang3", "first-pass-123")
    assert staff.get("/workbench/today").status_code == 200


def test_bad_input_comes_back_in_chinese_with_what_was_typed(client_as: Callable[[str], FlaskClient]) -> None:
    admin = client_as("platform_admin")
    taken = new_staff(admin, username="lab", display_name="重名的人")
    html = taken.get_data(as_text=True)
    assert taken.status_code == 409 and "已被使用" in html and 'value="重名的人"' in html and "<details" in html
    short = new_staff(admin, password="short")
    assert short.status_code == 400 and "初始密码至少 8 个字符" in short.get_data(as_text=True)
    nowhere = new_staff(admin, institution="NO-SUCH")
    assert nowhere.status_code == 400 and "没有机构" in nowhere.get_data(as_text=True)
    # a corrected form after an error goes through
    assert new_staff(admin).status_code == 303


def test_disabling_signs_the_person_out_and_enabling_lets_them_back(web_app: Flask,
        client_as: Callable[[str], FlaskClient]) -> None:
    lab = client_as("lab_staff")
    assert lab.get("/workbench/today").status_code == 200
    admin = client_as("platform_admin")
    detail = f"{USERS}/{user_id(web_app, 'lab')}"
    disabled = post_form(admin, detail + "/active", {"active": "0"}, page=detail, follow_redirects=True)
    assert "已停用账号 lab" in disabled.get_data(as_text=True) and "已停用" in disabled.get_data(as_text=True)
    assert lab.get("/workbench/today").status_code == 302  # signed out at once
    enabled = post_form(admin, detail + "/active", {"active": "1"}, page=detail, follow_redirects=True)
    assert "已启用账号 lab" in enabled.get_data(as_text=True)
    sign_in(web_app.test_client(), *ACCOUNTS["lab_staff"])


def test_a_generated_password_is_shown_once_and_ends_old_sessions(web_app: Flask,
        client_as: Callable[[str], FlaskClient]) -> None:
    lab = client_as("lab_staff")
    admin = client_as("platform_admin")
    detail = f"{USERS}/{user_id(web_app, 'lab')}"
    reset = post_form(admin, detail + "/password", {"mode": "generate"}, page=detail)
    assert reset.status_code == 303 and "shown=" in reset.headers["Location"]
    page = admin.get(reset.headers["Location"]).get_data(as_text=True)
    password = re.search(r'<code class="fs-5 user-select-all">(\w+)</code>', page).group(1)
    assert "只显示这一次" in page and len(password) == 12
    assert "只显示这一次" not in admin.get(reset.headers["Location"]).get_data(as_text=True)
    assert lab.get("/workbench/today").status_code == 302
    sign_in(web_app.test_client(), "lab", password)


def test_a_typed_password_must_match_and_follow_the_rules(web_app: Flask,
                                                          client_as: Callable[[str], FlaskClient]) -> None:
    admin = client_as("platform_admin")
    detail = f"{USERS}/{user_id(web_app, 'lab')}"
    mismatch = post_form(admin, detail + "/password", {"mode": "typed", "password": "new-pass-123",
                                                       "password2": "new-pass-124"}, page=detail)
    assert mismatch.status_code == 400 and "两次输入的密码不一致" in mismatch.get_data(as_text=True)
    short = post_form(admin, detail + "/password", {"mode": "typed", "password": "short", "password2": "short"},
                      page=detail)
    assert short.status_code == 400 and "密码至少 8 个字符" in short.get_data(as_text=True)
    done = post_form(admin, detail + "/password", {"mode": "typed", "password": "new-pass-123",
                                                   "password2": "new-pass-123"}, page=detail, follow_redirects=True)
    assert "已重置账号 lab 的密码" in done.get_data(as_text=True)
    sign_in(web_app.test_client(), "lab", "new-pass-123")


def test_roles_change_and_an_admin_cannot_lock_themselves_out(web_app: Flask,
        client_as: Callable[[str], FlaskClient]) -> None:
    admin = client_as("platform_admin")
    detail = f"{USERS}/{user_id(web_app, 'lab')}"
    promoted = post_form(admin, detail + "/role", {"role": "institution_admin", "institution": "T-HZ-ATC"},
                         page=detail, follow_redirects=True).get_data(as_text=True)
    assert "角色已改为机构管理员" in promoted and "杭州" in promoted
    no_place = post_form(admin, detail + "/role", {"role": "lab_staff", "institution": ""}, page=detail)
    assert no_place.status_code == 400 and "须选择所属机构" in no_place.get_data(as_text=True)

    own = f"{USERS}/{user_id(web_app, 'admin')}"
    assert "这是您自己的账号" in admin.get(own).get_data(as_text=True)
    refused = post_form(admin, own + "/active", {"active": "0"}, page=own, follow_redirects=True)
    assert "不能在这里停用自己的账号" in refused.get_data(as_text=True)
    assert admin.get(USERS).status_code == 200  # still signed in


# ---- 后台任务 ----------------------------------------------------------------------------------------

def test_the_job_outbox_is_shown_and_redriven(web_app: Flask, client_as: Callable[[str], FlaskClient]) -> None:
    platform = web_app.extensions["platform"]
    with platform.transaction() as session:
        job = defer(session, SEND_NOTIFICATION_JOB, 12345)
    with platform.transaction() as session:
        session.execute(update(Job).where(Job.id == job.id).values(
            status="pending", attempts=2, last_error="DependencyUnavailable: 微信接口超时"))
    admin = client_as("platform_admin")
    page = admin.get("/console/jobs").get_data(as_text=True)
    assert "推送通知" in page and "等待中" in page and "微信接口超时" in page and "已尝试 2 次" in page
    redriven = post_form(admin, "/console/jobs/redrive", page="/console/jobs", follow_redirects=True)
    assert "1 个到期未完成的任务将由下一轮中继重新投递" in redriven.get_data(as_text=True)


def test_rq_dashboard_is_mounted_behind_the_admin_sign_in(client_as: Callable[[str], FlaskClient]) -> None:
    admin = client_as("platform_admin")
    page = admin.get("/console/jobs/rq/")
    assert page.status_code == 200 and "RQ" in page.get_data(as_text=True)
    assert "'unsafe-inline'" in page.headers["Content-Security-Policy"].split("script-src")[1].split(";")[0]
    assert "'unsafe-inline'" not in admin.get("/console/jobs").headers["Content-Security-Policy"].split("style-src")[0]
    queues = admin.get("/console/jobs/rq/0/data/queues.json")
    assert queues.status_code == 200 and "queues" in queues.get_json()
    # its buttons post without our CSRF token: only from this site's pages
    assert admin.post("/console/jobs/rq/queue/default/failed/empty").status_code == 403
    same_site = admin.post("/console/jobs/rq/queue/default/failed/empty", headers={"Origin": "http://localhost"})
    assert same_site.status_code == 200
    assert client_as("lab_staff").get("/console/jobs/rq/0/data/queues.json").status_code == 403


# ---- in a browser ------------------------------------------------------------------------------------



@needs_browser
def test_an_admin_manages_people_and_looks_at_jobs_in_a_browser(web_app: Flask, served: str, browser,  # type: ignore[no-untyped-def]
                                                                 tmp_path: Path) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as seen
    from selenium.webdriver.support.ui import Select, WebDriverWait

    wait = WebDriverWait(browser, 15)
    browser_sign_in(browser, served, "platform_admin")
    wait.until(seen.url_contains("/console/dashboard"))
    browser.get(served + USERS)
    browser.find_element(By.CSS_SELECTOR, "#create-staff summary").click()
    browser.find_element(By.ID, "username").send_keys("li4")
    browser.find_element(By.ID, "display_name").send_keys("李四")
    Select(browser.find_element(By.ID, "institution")).select_by_value("T-HZ-ATC")
    browser.find_element(By.ID, "password").send_keys("li4-pass-2026")
    browser.find_element(By.CSS_SELECTOR, "#create-staff button[type=submit]").click()
    wait.until(seen.text_to_be_present_in_element((By.TAG_NAME, "main"), "已创建实验室人员账号 li4"))
    browser.find_element(By.ID, "generate-password").click()
    wait.until(seen.presence_of_element_located((By.ID, "shown-password")))
    shoot(browser, tmp_path, "console-user-detail")
    browser.get(served + USERS)
    assert "li4" in browser.find_element(By.ID, "user-table").text
    shoot(browser, tmp_path, "console-users")
    shoot(browser, tmp_path, "console-users-phone", width=390)

    enqueue_index_sync(web_app.extensions["platform"].redis)  # something on a queue for rq-dashboard to show
    browser.get(served + "/console/jobs")
    assert "未完成的任务" in browser.find_element(By.TAG_NAME, "main").text
    shoot(browser, tmp_path, "console-jobs")
    browser.find_element(By.ID, "rq-link").click()
    # its own scripts ran (allowed on its pages only) and listed the queues
    wait.until(lambda b: "default" in b.find_element(By.ID, "queues").text)
    shoot(browser, tmp_path, "console-jobs-rq")

    browser.get(served + "/console/catalog")
    shoot(browser, tmp_path, "console-catalog")
    shoot(browser, tmp_path, "console-catalog-phone", width=390)
    browser.get_log("browser")  # what rq-dashboard logged (its favicon) is not this page's
    browser.get(served + "/console/api-docs")
    wait.until(lambda b: len(b.find_elements(By.CSS_SELECTOR, "#swagger-ui .opblock")) > 20)
    browser.save_screenshot(str(tmp_path / "console-api-docs.png"))  # the top of a long page, as one sees it first
    shutil.copyfile(tmp_path / "console-api-docs.png", SHOTS / "console-api-docs.png")
    search = browser.find_element(By.CSS_SELECTOR, "#swagger-ui .opblock-summary-path[data-path='/api/v1/search']")
    browser.execute_script("arguments[0].scrollIntoView({block: 'center'}); arguments[0].click()", search)
    wait.until(seen.text_to_be_present_in_element((By.ID, "swagger-ui"), "x-error-codes"))
    errors = [e for e in browser.get_log("browser") if e["level"] == "SEVERE"]
    assert not errors, errors
    browser.execute_script("document.querySelector('#swagger-ui .opblock.is-open').scrollIntoView()")
    browser.set_window_size(1280, 1800)
    browser.save_screenshot(str(tmp_path / "console-api-docs-search.png"))
    shutil.copyfile(tmp_path / "console-api-docs-search.png", SHOTS / "console-api-docs-search.png")
