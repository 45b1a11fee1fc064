"""目录 and API 文档 as an admin meets them: the whole catalog in every state with filters and pages, the
switches that take listings, instruments and institutions in and out of search (reaching the index
through the outbox and a worker), Chinese refusals, and Swagger UI over an OpenAPI document that says
each operation's error codes and shows an example of every answer."""
from __future__ import annotations

import html
import json
import re
from pathlib import Path
from typing import Callable

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from core.models import IndexChange
from tests.conftest import cli
from tests.web.conftest import build_web_app, csrf_of, post_form

CATALOG = "/console/catalog"


@pytest.fixture
def web_app(app_factory: Callable[..., Flask], tmp_path: Path) -> Flask:
    application = build_web_app(app_factory(tmp_path / "app"))
    assert cli(application, "search", "reindex").exit_code == 0
    return application


def codes_on(html: str) -> list[str]:
    return re.findall(r'<tr data-code="([^"]+)"', html)


def searched(app: Flask, query: str) -> list[str]:
    return [h.doc.code for h in app.extensions["search"].search(query, 10).hits]


def work_the_queue(app: Flask) -> None:
    """A worker in burst mode: the index sync the page asked for runs against real Redis."""
    result = cli(app, "worker", "--burst")
    assert result.exit_code == 0, result.output


def test_the_catalog_is_for_platform_admins(client_as: Callable[[str], FlaskClient]) -> None:
    anonymous = client_as("anonymous").get(CATALOG)
    assert anonymous.status_code == 302 and "/login?next=/console/catalog" in anonymous.headers["Location"]
    assert client_as("lab_staff").get(CATALOG).status_code == 403
    # a lab's own admin cannot take listings out of search either, even with a valid form
    lab_admin = client_as("institution_admin")
    refused = post_form(lab_admin, f"{CATALOG}/services/T-CQ-S001/active", {"active": "0"}, page="/workbench/today")
    assert refused.status_code == 403


def test_every_listing_in_every_state_with_filters(client_as: Callable[[str], FlaskClient]) -> None:
    admin = client_as("platform_admin")
    everything = admin.get(CATALOG).get_data(as_text=True)
    assert len(codes_on(everything)) == 10 and "已下架" in everything and "可搜索" in everything
    assert codes_on(admin.get(f"{CATALOG}?city=杭州").get_data(as_text=True)) == ["T-HZ-S001", "T-HZ-S002", "T-HZ-S003"]
    assert codes_on(admin.get(f"{CATALOG}?status=inactive").get_data(as_text=True)) == ["T-CD-S002"]
    assert codes_on(admin.get(f"{CATALOG}?q=苏丹红").get_data(as_text=True)) == ["T-CQ-S001", "T-HZ-S001"]
    assert codes_on(admin.get(f"{CATALOG}?institution=T-CD-MAT&q=试验").get_data(as_text=True)) == ["T-CD-S001", "T-CD-S002"]
    # a % is a character here, not a wildcard
    assert "没有符合条件的服务项目" in admin.get(f"{CATALOG}?q=%25").get_data(as_text=True)
    instruments = admin.get(f"{CATALOG}?view=instruments&city=成都").get_data(as_text=True)
    assert codes_on(instruments) == ["T-CD-MAT-0001", "T-CD-MAT-0002"] and "共享中" in instruments
    pending = admin.get(f"{CATALOG}?view=institutions&status=pending").get_data(as_text=True)
    assert codes_on(pending) == ["T-XA-PEND"] and "待审核" in pending


def test_long_lists_come_in_pages(web_app: Flask, client_as: Callable[[str], FlaskClient], tmp_path: Path) -> None:
    services = [{"code": f"T-PG-S{n:03d}", "name": f"分页测试项目{n}", "price_cny": 100} for n in range(25)]
    line = {"institution": {"code": "T-PG", "name": "分页测试中心", "city": "武汉"},
            "instrument": {"code": "T-PG-0001", "name": "分页测试仪"}, "services": services}
    path = tmp_path / "more.jsonl"
    path.write_text(json.dumps(line, ensure_ascii=False) + "\n", "utf-8")
    assert cli(web_app, "catalog", "import", "--approve", str(path)).exit_code == 0
    admin = client_as("platform_admin")
    first = admin.get(f"{CATALOG}?city=武汉").get_data(as_text=True)
    assert len(codes_on(first)) == 20 and "共 25 条，第 1 / 2 页" in first
    assert "page=2" in first and "city=%E6%AD%A6%E6%B1%89" in first  # the filters go along to the next page
    second = admin.get(f"{CATALOG}?city=武汉&page=2").get_data(as_text=True)
    assert codes_on(second) == [f"T-PG-S{n:03d}" for n in range(20, 25)]
    assert "第 2 / 2 页" in admin.get(f"{CATALOG}?city=武汉&page=99").get_data(as_text=True)


def test_taking_a_listing_out_reaches_search_through_the_outbox(web_app: Flask,
                                                                client_as: Callable[[str], FlaskClient]) -> None:
    admin = client_as("platform_admin")
    assert "T-HZ-S002" in searched(web_app, "药粉是哪种晶型")
    page = admin.get(f"{CATALOG}?city=杭州").get_data(as_text=True)
    form_key = re.search(r'action="/console/catalog/services/T-HZ-S002/active".*?name="form_key" value="(\w+)"',
                         page, re.S).group(1)
    back = html.unescape(re.search(r'name="back" value="([^"]+)"', page).group(1))
    assert back == "/console/catalog?view=services&city=%E6%9D%AD%E5%B7%9E"  # the list comes back as it was
    data = {"csrf_token": csrf_of(page), "form_key": form_key, "active": "0", "back": back}
    done = admin.post(f"{CATALOG}/services/T-HZ-S002/active", data=data)
    assert done.status_code == 303 and done.headers["Location"] == back
    shown = admin.get(done.headers["Location"]).get_data(as_text=True)
    assert "已下架服务项目「粉末X射线衍射物相分析」。搜索索引将在后台更新。" in shown
    # sent twice (a double click): answered like the first, done once
    again = admin.post(f"{CATALOG}/services/T-HZ-S002/active", data=data)
    assert again.status_code == 303 and again.headers["Location"] == back
    assert "已下架服务项目" in admin.get(back).get_data(as_text=True)
    with web_app.extensions["platform"].transaction(write=False) as session:
        assert session.scalar(select(func.count(IndexChange.id))) == 1
    work_the_queue(web_app)
    assert "T-HZ-S002" not in searched(web_app, "药粉是哪种晶型")
    post_form(admin, f"{CATALOG}/services/T-HZ-S002/active", {"active": "1"}, page=CATALOG)
    work_the_queue(web_app)
    assert "T-HZ-S002" in searched(web_app, "药粉是哪种晶型")


def test_an_instrument_out_of_sharing_takes_its_listings_with_it(web_app: Flask,
                                                                 client_as: Callable[[str], FlaskClient]) -> None:
    admin = client_as("platform_admin")
    answer = post_form(admin, f"{CATALOG}/instruments/T-CQ-FOOD-0001/shared", {"shared": "0"},
                       page=f"{CATALOG}?view=instruments", follow_redirects=True).get_data(as_text=True)
    assert "仪器「高效液相色谱仪」已停止共享" in answer
    work_the_queue(web_app)
    assert "T-CQ-S001" not in searched(web_app, "辣椒粉 苏丹红") and "T-HZ-S001" in searched(web_app, "辣椒粉 苏丹红")
    listings = admin.get(f"{CATALOG}?institution=T-CQ-FOOD").get_data(as_text=True)
    assert "仪器已停止共享" in listings


def test_approving_an_institution_puts_its_listings_in_search(web_app: Flask,
                                                              client_as: Callable[[str], FlaskClient]) -> None:
    admin = client_as("platform_admin")
    assert "T-XA-S001" not in searched(web_app, "大米 镉")
    answer = post_form(admin, f"{CATALOG}/institutions/T-XA-PEND/status", {"status": "approved"},
                       page=f"{CATALOG}?view=institutions", follow_redirects=True).get_data(as_text=True)
    assert "的状态已改为已通过" in answer
    work_the_queue(web_app)
    assert "T-XA-S001" in searched(web_app, "大米 镉")


def test_a_refusal_is_said_in_chinese_on_the_page(client_as: Callable[[str], FlaskClient]) -> None:
    admin = client_as("platform_admin")
    missing = post_form(admin, f"{CATALOG}/services/NO-SUCH/active", {"active": "0"}, page=CATALOG,
                        follow_redirects=True).get_data(as_text=True)
    assert "没有编号为 NO-SUCH 的检测服务。" in missing and "Traceback" not in missing
    odd = post_form(admin, f"{CATALOG}/institutions/T-XA-PEND/status", {"status": "deleted"}, page=CATALOG,
                    follow_redirects=True).get_data(as_text=True)
    assert "请选择机构状态" in odd
    # a crafted return address is not followed
    away = post_form(admin, f"{CATALOG}/services/T-CQ-S001/active", {"active": "1", "back": "https://evil.example/"},
                     page=CATALOG)
    assert away.headers["Location"] == "/console/catalog"


# ---- API 文档 ----------------------------------------------------------------------------------------

def test_the_api_reference_is_for_admins_and_lab_staff(client_as: Callable[[str], FlaskClient]) -> None:
    anonymous = client_as("anonymous").get("/console/api-docs")
    assert anonymous.status_code == 302 and "/login" in anonymous.headers["Location"]
    admin = client_as("platform_admin").get("/console/api-docs")
    html = admin.get_data(as_text=True)
    assert admin.status_code == 200 and 'data-spec-url="/api/v1/openapi.json"' in html
    assert "vendor/swagger-ui/swagger-ui-bundle.js" in html and "js/api_docs.js" in html
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html)  # no inline script: the policy would block it
    assets = re.findall(r'<script[^>]*src="([^"]+)"', html) + re.findall(r'<link[^>]*href="([^"]+)"', html)
    assert assets and all(a.startswith("/static/") for a in assets)  # from this site, never a CDN
    lab = client_as("lab_staff").get("/console/api-docs").get_data(as_text=True)
    assert "返回实验室工作台" in lab and "/console/users" not in lab  # no console links a lab user cannot open


def test_the_openapi_document_says_each_operations_error_codes_and_examples(client_as: Callable[[str], FlaskClient]) -> None:
    doc = client_as("anonymous").get("/api/v1/openapi.json").get_json()
    search = doc["paths"]["/api/v1/search"]["get"]
    assert "unknown_filter_value" in search["x-error-codes"]["400"]
    assert "search_index_missing" in search["x-error-codes"]["503"]
    assert search["responses"]["200"]["content"]["application/json"]["example"]["items"][0]["why"]
    example = search["responses"]["400"]["content"]["application/json"]["examples"]["unknown_filter_value"]["value"]
    assert example["error"]["code"] == "unknown_filter_value" and example["error"]["message"]
    for path, operations in doc["paths"].items():
        for method, operation in operations.items():
            errors = [s for s in operation["responses"] if s.startswith(("4", "5"))]
            assert set(operation["x-error-codes"]) == set(errors), f"{method} {path}"
            assert all(operation["x-error-codes"][s] for s in errors), f"{method} {path} lists a status without codes"
            ok = next(r for s, r in operation["responses"].items() if s.startswith("2"))
            if "application/json" in ok["content"]:
                assert "example" in ok["content"]["application/json"], f"{method} {path} has no example"
