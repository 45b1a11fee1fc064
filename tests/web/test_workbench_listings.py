"""服务项目 and 团购 as lab staff meet them: their institution's listings with price and state; an edit
with bad input said next to the field in Chinese, keeping what was typed; an edit or a listing taken
off the shelf reaching search through the index outbox; group-buys opened, followed and closed."""
from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Callable

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from core.db import unit_of_work
from core.models import GroupBuyCampaign, Role, Service
from core.services.catalog.index_outbox import pending_changes
from core.services.people.users import create_admin
from search_index.builder import sync_changes
from tests.conftest import cli
from tests.orders.conftest import SHANGHAI, build_market
from tests.web.conftest import browser_sign_in, build_web_app, csrf_of, post_form, shoot, shown, sign_in

EDIT = "/workbench/listings/T-CQ-S001/edit"


@pytest.fixture
def app(app_factory: Callable[..., Flask], tmp_path: Path) -> Flask:
    return app_factory(tmp_path, RATE_LIMIT_LOGIN_PER_IP="100000")


@pytest.fixture
def web_app(app: Flask) -> Flask:
    """The back office's app with the import's own outbox rows cleared, so a test sees only its changes."""
    built = build_web_app(app)
    _clear_outbox(built)
    return built


def _service(web_app: Flask, code: str) -> Service:
    with unit_of_work(web_app.extensions["platform"].session_factory, write=False) as session:
        service = session.scalar(select(Service).where(Service.code == code))
        session.expunge(service)
        return service


def _stale(web_app: Flask) -> list[str]:
    with unit_of_work(web_app.extensions["platform"].session_factory, write=False) as session:
        return [c.service_code for c in pending_changes(session)]


def _clear_outbox(web_app: Flask) -> None:
    from core.services.catalog.index_outbox import clear_changes

    with unit_of_work(web_app.extensions["platform"].session_factory) as session:
        changes = pending_changes(session)
        if changes:
            clear_changes(session, changes[-1].id)


def test_the_list_shows_the_institutions_listings_only(client_as: Callable[[str], FlaskClient]) -> None:
    html = client_as("lab_staff").get("/workbench/listings").get_data(as_text=True)
    assert "服务项目" in html and "食品中苏丹红I-IV号的测定" in html and "T-CQ-S003" in html
    assert "¥300.00/样" in html and "5 天" in html and "上架中" in html
    assert "T-HZ-S001" not in html and "辣椒制品中苏丹红染料检测" not in html
    assert 'href="/workbench/instruments/T-CQ-FOOD-0001/calendar' in html  # hours live on the calendar


def test_who_may_see_and_change_listings(web_app: Flask, client_as: Callable[[str], FlaskClient]) -> None:
    anonymous = web_app.test_client().get("/workbench/listings")
    assert anonymous.status_code == 302 and "/login" in anonymous.headers["Location"]
    assert client_as("platform_admin").get("/workbench/listings").status_code == 403
    with unit_of_work(web_app.extensions["platform"].session_factory) as session:
        create_admin(session, "qiye", "qiye-password-2026", "某企业").role = Role.enterprise
    enterprise = sign_in(web_app.test_client(), "qiye", "qiye-password-2026")
    assert enterprise.get("/workbench/listings").status_code == 403
    assert enterprise.get("/workbench/group-buys").status_code == 403
    staff = client_as("lab_staff")
    assert staff.get("/workbench/listings/T-HZ-S001/edit").status_code == 404
    assert staff.get("/workbench/listings/NO-SUCH/edit").status_code == 404
    refused = post_form(staff, "/workbench/listings/T-HZ-S001/shelf", {"active": "0"}, page="/workbench/listings")
    assert refused.status_code == 404 and _service(web_app, "T-HZ-S001").active
    assert post_form(staff, "/workbench/listings/T-HZ-S001/edit", {"price": "1"}, page="/workbench/listings"
                     ).status_code == 404
    assert float(_service(web_app, "T-HZ-S001").price_cny) == 260


@pytest.mark.parametrize("field, typed, message", [
    ("price", "三百", "价格须为数字"), ("price", "0", "价格须大于 0"), ("price", "-5", "价格须大于 0"),
    ("price", "12.345", "最多保留两位小数"), ("price", "", "请填写价格"),
    ("turnaround_days", "-1", "检测周期须为 0 到 365"), ("turnaround_days", "五天", "检测周期须为 0 到 365"),
    ("sample_address", "地" * 301, "寄样地址最多 300 个字"),
])
def test_bad_input_is_said_next_to_the_field_and_keeps_what_was_typed(
        web_app: Flask, client_as: Callable[[str], FlaskClient], field: str, typed: str, message: str) -> None:
    form = {"price": "280", "turnaround_days": "4", "description": "新的说明", "sample_requirements": "每样 50 g",
            "sample_address": "重庆市某区科技路1号 201 室"}
    form[field] = typed
    response = post_form(client_as("lab_staff"), EDIT, form)
    html = response.get_data(as_text=True)
    assert response.status_code == 400 and message in html and f'id="error-{field}"' in html
    assert "新的说明" in html and "每样 50 g" in html and (typed == "" or typed in html)
    assert float(_service(web_app, "T-CQ-S001").price_cny) == 300 and _stale(web_app) == []


def approve_pending(web_app: Flask, code: str) -> None:
    """A platform admin approves the listing's pending revision (入网审核 of a live listing's changes)."""
    from core.models import User
    from core.services.catalog.revisions import decide_revision, pending_of

    with unit_of_work(web_app.extensions["platform"].session_factory) as session:
        admin = session.scalar(select(User).where(User.username == "admin"))
        revision = pending_of(session, "service", code)
        assert revision is not None, "nothing waits for review"
        decide_revision(session, admin, revision.id, approve=True)


def test_an_edit_is_saved_and_marked_for_search(web_app: Flask, client_as: Callable[[str], FlaskClient]) -> None:
    staff = client_as("lab_staff")
    page = staff.get(EDIT).get_data(as_text=True)
    assert 'value="300.00"' in page and 'value="5"' in page and "打开高效液相色谱仪的日历" in page
    saved = staff.post(EDIT, data={"price": "288.50", "turnaround_days": "3", "description": "HPLC 测定苏丹红，加急可议",
                                   "sample_requirements": "每个样品不少于 100 g，密封", "sample_address":
                                   "重庆市某区科技路1号 分析测试中心 201 室", "csrf_token": csrf_of(page)})
    assert saved.status_code == 302
    told = staff.get(saved.headers["Location"]).get_data(as_text=True)
    assert "已保存“食品中苏丹红I-IV号的测定”" in told and "已提交平台审核" in told and "价格：300.00 → 288.50" in told
    # the turnaround and the address apply at once; the price and the texts wait for review
    service = _service(web_app, "T-CQ-S001")
    assert float(service.price_cny) == 300 and service.turnaround_days == 3 and service.sample_requirements is None
    assert _stale(web_app) == ["T-CQ-S001"]
    html = staff.get("/workbench/listings").get_data(as_text=True)
    assert "¥300.00/样" in html and "3 天" in html and "修改待审核" in html
    assert web_app.test_client().get("/api/v1/services/T-CQ-S001").get_json()["price_cny"] == 300
    # the address is the instrument's: the other listing on it shows it too
    assert "分析测试中心 201 室" in staff.get("/workbench/listings/T-CQ-S002/edit").get_data(as_text=True)

    approve_pending(web_app, "T-CQ-S001")
    service = _service(web_app, "T-CQ-S001")
    assert float(service.price_cny) == 288.5 and service.sample_requirements == "每个样品不少于 100 g，密封"
    again = staff.get(EDIT).get_data(as_text=True)
    assert "HPLC 测定苏丹红，加急可议" in again
    # the customers' API shows the new price once approved (it reads the database)
    detail = web_app.test_client().get("/api/v1/services/T-CQ-S001").get_json()
    assert detail["price_cny"] == 288.5 and detail["sample_requirements"] == "每个样品不少于 100 g，密封"
    # saving the same again changes nothing and marks nothing more
    same = staff.post(EDIT, data={"price": "288.5", "turnaround_days": "3", "description": "HPLC 测定苏丹红，加急可议",
                                  "sample_requirements": "每个样品不少于 100 g，密封", "sample_address":
                                  "重庆市某区科技路1号 分析测试中心 201 室", "csrf_token": csrf_of(page)})
    assert "没有改动" in staff.get(same.headers["Location"]).get_data(as_text=True)
    assert _stale(web_app) == ["T-CQ-S001", "T-CQ-S001"]  # the edit's and the approval's, nothing more


def test_off_the_shelf_and_back_on_reaches_search(web_app: Flask, client_as: Callable[[str], FlaskClient]) -> None:
    assert cli(web_app, "search", "reindex").exit_code == 0
    engine = web_app.extensions["search"]
    staff = client_as("lab_staff")

    def found(query: str) -> list[str]:
        return [h.doc.code for h in engine.search(query, 10).hits]

    assert "T-CQ-S001" in found("辣椒粉 苏丹红")
    off = post_form(staff, "/workbench/listings/T-CQ-S001/shelf", {"active": "0"}, page="/workbench/listings")
    html = staff.get(off.headers["Location"]).get_data(as_text=True)
    assert "已下架" in html and not _service(web_app, "T-CQ-S001").active  # stopping bookings waits for no one
    assert _stale(web_app) == ["T-CQ-S001"]
    # taking it off twice (a double click) changes nothing more
    post_form(staff, "/workbench/listings/T-CQ-S001/shelf", {"active": "0"}, page="/workbench/listings")
    assert _stale(web_app) == ["T-CQ-S001"]
    assert web_app.test_client().get("/api/v1/services/T-CQ-S001").status_code == 404
    platform = web_app.extensions["platform"]
    with unit_of_work(platform.session_factory) as session:
        sync_changes(session, engine.store, engine.encoder)
    assert "T-CQ-S001" not in found("辣椒粉 苏丹红") and _stale(web_app) == []

    back = post_form(staff, "/workbench/listings/T-CQ-S001/shelf", {"active": "1"}, page="/workbench/listings")
    assert "重新上架已提交平台审核" in staff.get(back.headers["Location"]).get_data(as_text=True)
    post_form(staff, EDIT, {"price": "199", "turnaround_days": "5"})
    assert not _service(web_app, "T-CQ-S001").active  # still off until approved
    approve_pending(web_app, "T-CQ-S001")  # one revision: back on the shelf at 199
    with unit_of_work(platform.session_factory) as session:
        sync_changes(session, engine.store, engine.encoder)
    hits = {h.doc.code: h.doc for h in engine.search("辣椒粉 苏丹红", 10).hits}
    assert "T-CQ-S001" in hits and hits["T-CQ-S001"].price_cny == 199


# --- group-buys -----------------------------------------------------------------------------------

def _campaign_form(**overrides: str) -> dict[str, str]:
    deadline = (datetime.now(SHANGHAI) + timedelta(days=5)).replace(hour=18, minute=0, second=0, microsecond=0)
    form = {"service_code": "T-CQ-S002", "min_samples": "3", "max_samples": "10", "group_price": "150",
            "deadline": deadline.strftime("%Y-%m-%dT%H:%M"), "run_date": (deadline.date() + timedelta(days=2)).isoformat()}
    return {**form, **overrides}


def _campaigns(web_app: Flask) -> list[GroupBuyCampaign]:
    with unit_of_work(web_app.extensions["platform"].session_factory, write=False) as session:
        found = list(session.scalars(select(GroupBuyCampaign).order_by(GroupBuyCampaign.id)))
        for c in found:
            session.expunge(c)
        return found


def test_a_group_buy_is_opened_followed_and_closed(web_app: Flask, client_as: Callable[[str], FlaskClient]) -> None:
    market = build_market(web_app)
    staff = client_as("lab_staff")
    page = staff.get("/workbench/group-buys").get_data(as_text=True)
    assert "开启团购" in page and "食品中苯甲酸、山梨酸的测定" in page and "还没有团购" in page
    form = _campaign_form()
    opened = staff.post("/workbench/group-buys", data={**form, "csrf_token": csrf_of(page)})
    assert opened.status_code == 302
    # the same form sent twice opens one campaign
    again = staff.post("/workbench/group-buys", data={**form, "csrf_token": csrf_of(page)})
    assert "没有重复开启" in staff.get(again.headers["Location"]).get_data(as_text=True)
    [campaign] = _campaigns(web_app)
    assert campaign.group_price_cents == 15000 and campaign.min_samples == 3
    assert campaign.deadline.replace(tzinfo=campaign.deadline.tzinfo or SHANGHAI).astimezone(SHANGHAI).hour == 18

    # two customers join through the mini-program API: 2 + 2 samples paid
    for name, code in (("张三", None), ("李四", "91330106MA2GL1AE5H")):
        who = market.customer if code is None else market.sign_in(name=name, company=code)
        number = market.order(who, campaign_id=campaign.id, samples=2)["number"]
        market.pay(number, who)
    html = staff.get("/workbench/group-buys").get_data(as_text=True)
    card = html[html.index(f'id="campaign-{campaign.id}"'):]
    assert "已拼 <strong class=\"paid-samples\">4</strong>/10 样" in card and "2 个订单参团" in card
    assert "满 3 样成团" in card and "已达成团数" in card and "width: 40%" in card and "进行中" in card
    assert f"截止 {form['deadline'].replace('T', ' ')}" in card  # in Shanghai time, as typed

    # closing asks first, saying what it will do
    asked = staff.get(f"/workbench/group-buys?close={campaign.id}").get_data(as_text=True)
    assert "已达到成团数，2 个已付款订单将转为已接单" in asked and f'id="confirm-close-{campaign.id}"' in asked
    closed = post_form(staff, f"/workbench/group-buys/{campaign.id}/close", page="/workbench/group-buys")
    assert "已截止并成团" in staff.get(closed.headers["Location"]).get_data(as_text=True)
    assert _campaigns(web_app)[0].status == "confirmed"
    orders = market.get("/orders", market.customer).get_json()["items"]
    assert [o["status"] for o in orders if o["campaign_id"] == campaign.id] == ["accepted"]
    twice = post_form(staff, f"/workbench/group-buys/{campaign.id}/close", page="/workbench/group-buys")
    assert "无需再次截止" in staff.get(twice.headers["Location"]).get_data(as_text=True)
    assert "已成团" in staff.get("/workbench/group-buys").get_data(as_text=True)


def test_a_group_buy_short_of_its_target_refunds_when_closed(web_app: Flask,
                                                             client_as: Callable[[str], FlaskClient]) -> None:
    market = build_market(web_app)
    staff = client_as("lab_staff")
    post_form(staff, "/workbench/group-buys", _campaign_form(min_samples="5"))
    [campaign] = _campaigns(web_app)
    number = market.order(campaign_id=campaign.id, samples=1)["number"]
    market.pay(number)
    asked = staff.get(f"/workbench/group-buys?close={campaign.id}").get_data(as_text=True)
    assert "只拼到 1/5 样，未成团，1 个已付款订单将全额退款" in asked
    closed = post_form(staff, f"/workbench/group-buys/{campaign.id}/close", page="/workbench/group-buys")
    assert "未达到成团样品数" in staff.get(closed.headers["Location"]).get_data(as_text=True)
    assert market.get(f"/orders/{number}", market.customer).get_json()["status"] == "refunded"
    market.assert_books_balance()


@pytest.mark.parametrize("overrides, field, message", [
    ({"service_code": ""}, "service_code", "请选择检测服务"),
    ({"min_samples": "0"}, "min_samples", "成团样品数须为 1 到"),
    ({"min_samples": "8", "max_samples": "4"}, "max_samples", "不能少于成团样品数"),
    ({"group_price": "9.999"}, "group_price", "最多保留两位小数"),
    ({"group_price": "0"}, "group_price", "团购价须大于 0"),
    ({"deadline": "2020-01-01T10:00", "run_date": "2020-01-03"}, "deadline", "截止时间须晚于现在"),
    ({"service_code": "T-HZ-S001"}, "service_code", "您的实验室没有检测服务"),
])
def test_a_bad_group_buy_form_is_refused_next_to_the_field(
        web_app: Flask, client_as: Callable[[str], FlaskClient], overrides: dict[str, str], field: str,
        message: str) -> None:
    form = _campaign_form(**overrides)
    response = post_form(client_as("lab_staff"), "/workbench/group-buys", form)
    html = response.get_data(as_text=True)
    assert response.status_code == 400 and message in html and f'id="error-{field}"' in html
    assert f'value="{form["deadline"]}"' in html and _campaigns(web_app) == []


def test_another_labs_group_buy_cannot_be_closed(web_app: Flask, client_as: Callable[[str], FlaskClient]) -> None:
    market = build_market(web_app)
    deadline = (datetime.now(SHANGHAI) + timedelta(days=3)).isoformat()
    made = market.post("/lab/group-buys", market.material_lab, service_code="T-CD-S001", min_samples=2, max_samples=5,
                       group_price_cny=100, deadline=deadline, run_date=(datetime.now(SHANGHAI) + timedelta(days=4)).date().isoformat())
    assert made.status_code == 201
    staff = client_as("lab_staff")
    assert "金属材料室温拉伸试验" not in staff.get("/workbench/group-buys").get_data(as_text=True)
    refused = post_form(staff, f"/workbench/group-buys/{made.get_json()['id']}/close", page="/workbench/group-buys")
    assert refused.status_code == 404 and _campaigns(web_app)[0].status == "open"
    assert web_app.test_client().get("/workbench/group-buys").status_code == 302
    assert client_as("platform_admin").get("/workbench/group-buys").status_code == 403




def _click(browser: Any, element: Any) -> None:
    browser.execute_script("arguments[0].scrollIntoView({block: 'center', behavior: 'instant'})", element)
    element.click()


def test_in_a_browser_staff_edit_a_listing_and_open_a_group_buy(web_app: Flask, served: str, browser: Any,
                                                                 tmp_path: Path) -> None:
    from selenium.webdriver.common.by import By

    market = build_market(web_app)
    browser_sign_in(browser, served, "lab_staff")
    browser.get(served + "/workbench/listings")
    assert "食品中苏丹红I-IV号的测定" in browser.find_element(By.ID, "listings").text
    shoot(browser, tmp_path, "listings")

    browser.get(served + EDIT)
    price = browser.find_element(By.ID, "price")
    price.clear()
    price.send_keys("12.345")
    _click(browser, browser.find_element(By.ID, "save-listing"))
    assert "最多保留两位小数" in shown(browser, "#error-price").text
    assert browser.find_element(By.ID, "price").get_attribute("value") == "12.345"
    shoot(browser, tmp_path, "listing-edit-error")
    price = browser.find_element(By.ID, "price")
    price.clear()
    price.send_keys("320")
    _click(browser, browser.find_element(By.ID, "save-listing"))
    assert "已提交平台审核" in shown(browser, ".alert-success").text
    listed = browser.find_element(By.ID, "listings").text
    assert "¥300.00/样" in listed and "修改待审核：价格：300.00 → 320.00" in listed

    browser.get(served + "/workbench/group-buys")
    browser.find_element(By.CSS_SELECTOR, "#service_code option[value='T-CQ-S002']").click()
    price = browser.find_element(By.ID, "group_price")
    price.send_keys("150")
    _click(browser, browser.find_element(By.ID, "open-button"))
    assert "已开启" in shown(browser, ".alert-success").text
    [campaign] = _campaigns(web_app)
    number = market.order(campaign_id=campaign.id, samples=3)["number"]
    market.pay(number)
    browser.get(served + "/workbench/group-buys")
    assert "已拼 3/20 样" in browser.find_element(By.ID, f"campaign-{campaign.id}").text
    shoot(browser, tmp_path, "group-buys")
    browser.set_window_size(390, 844)
    browser.get(served + "/workbench/listings")
    shoot(browser, tmp_path, "listings-phone")
    browser.get(served + "/workbench/group-buys")
    shoot(browser, tmp_path, "group-buys-phone")
