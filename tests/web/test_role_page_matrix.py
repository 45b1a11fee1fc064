"""Every back-office route, for every kind of visitor: anonymous, an enterprise user, lab staff and an
institution admin of institution A (on A's objects and on B's), and a platform admin. Each gets the
status the issue asks for, and nothing of B's reaches A's pages. Routes are read from the app's URL
map, so a new page is in the matrix the day it is added."""
from __future__ import annotations

import re
from typing import Callable

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.security import generate_password_hash

from core.db import unit_of_work
from core.models import Role, User
from tests.conftest import cli
from tests.manage.evaluation_world import published_rounds
from tests.orders.conftest import build_market
from tests.web.conftest import ACCOUNTS, build_web_app, csrf_of, sign_in

# A is the demo accounts' institution (T-CQ-FOOD); B is T-CD-MAT
OBJECTS = {
    "A": {"instruments": "T-CQ-FOOD-0001", "listings": "T-CQ-S002", "calendar": "T-CQ-FOOD-0001"},
    "B": {"instruments": "T-CD-MAT-0001", "listings": "T-CD-S001", "calendar": "T-CD-MAT-0001"},
}
# evaluation rounds (round_id, institution_id, n-th attachment): A's round has T-CQ-FOOD, B's only T-CD-MAT
EVALUATION: dict[str, dict[str, int]] = {}
# an idle report: every institution reads its part of A's; B's is one that does not exist
IDLE_REPORT: dict[str, int] = {"B": 999_999}


def idle_report_id(app: Flask) -> int:
    from core.services.data.idle_report import generate

    platform = app.extensions["platform"]
    with platform.transaction() as session:
        return generate(session, "2026-01", "2026-02", platform.settings.data, "Asia/Shanghai", "测试").id


# the API reference is for whoever builds a client, lab staff included
OPEN_TO_LAB = {"/console/api-docs"}
SKIP = ("/console/jobs/rq/<int:instance_number>", "/console/jobs/rq/static", "/console/jobs/rq/favicon",
        "/console/jobs/rq/job/", "/console/jobs/rq/queue/", "/console/jobs/rq/requeue/")


@pytest.fixture(scope="module")
def matrix(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    from tests.conftest import build_app, stop_app

    app = build_web_app(build_app(tmp_path_factory.mktemp("matrix"), RATE_LIMIT_LOGIN_PER_IP="100000"))
    market = build_market(app)
    numbers = {"A": market.paid_order(), "B": market.paid_order(service_code="T-CD-S001")}
    with unit_of_work(app.extensions["platform"].session_factory) as session:
        session.add(User(username="buyer", display_name="企业用户", role=Role.enterprise,
                         password_hash=generate_password_hash("buyer-password-1")))
        admin_id = session.query(User).filter_by(username="admin").one().id
    EVALUATION.update(published_rounds(app, "T-CQ-FOOD", "T-CD-MAT"))
    IDLE_REPORT["A"] = idle_report_id(app)
    yield app, numbers, admin_id
    stop_app(app)


def _client(app: Flask, who: str) -> FlaskClient:
    client = app.test_client()
    if who == "enterprise":
        return sign_in(client, "buyer", "buyer-password-1")
    return sign_in(client, *ACCOUNTS[who]) if who in ACCOUNTS else client


def _pages(app: Flask) -> list[str]:
    rules = [r.rule for r in app.url_map.iter_rules() if "GET" in r.methods
             and r.rule.startswith(("/workbench", "/console")) and not r.rule.startswith(SKIP)]
    return sorted(set(rules))


def _fill(rule: str, side: str, numbers: dict[str, str], user_id: int) -> str:
    area = next((k for k in ("calendar", "instruments", "listings") if f"/{k}/" in rule or rule.endswith("/calendar")), None)
    path = rule.replace("<number>", numbers[side]).replace("<int:user_id>", str(user_id))
    for name, value in EVALUATION.get(side, {}).items():
        path = path.replace(f"<int:{name}>", str(value))
    path = path.replace("<int:report_id>", str(IDLE_REPORT[side])).replace("<kind>", "xlsx")
    path = path.replace("<int:revision_id>", "999999")
    if "<code>" in path:
        kind = "calendar" if rule.endswith("/calendar") else area or "instruments"
        path = path.replace("<code>", OBJECTS[side][kind])
    assert "<" not in path, f"the matrix does not know how to fill {rule}: teach _fill"
    return path


def test_every_page_answers_each_role_as_it_should(matrix) -> None:  # type: ignore[no-untyped-def]
    app, numbers, user_id = matrix
    clients = {who: _client(app, who) for who in ("anonymous", "enterprise", "lab_staff", "institution_admin",
                                                   "platform_admin")}
    seen = 0
    for rule in _pages(app):
        workbench = rule.startswith("/workbench")
        own = _fill(rule, "A", numbers, user_id)
        anonymous = clients["anonymous"].get(own)
        assert anonymous.status_code == 302 and "/login" in anonymous.headers["Location"], rule
        assert clients["enterprise"].get(own).status_code == 403, rule
        for who in ("lab_staff", "institution_admin"):
            status = clients[who].get(own).status_code
            assert status == (200 if workbench or rule in OPEN_TO_LAB else 403), (who, rule, status)
            if workbench and ("<" in rule):
                foreign = clients[who].get(_fill(rule, "B", numbers, user_id))
                assert foreign.status_code == 404, (who, rule, foreign.status_code)
        admin = clients["platform_admin"].get(own).status_code
        assert admin == (403 if workbench else 200), (rule, admin)
        seen += 1
    assert seen >= 15, "the back office has fewer pages than expected: is the URL map read?"


def test_refusals_are_chinese_pages_that_leak_nothing(matrix) -> None:  # type: ignore[no-untyped-def]
    app, numbers, user_id = matrix
    staff = _client(app, "lab_staff")
    refused = staff.get(f"/workbench/orders/{numbers['B']}")
    html = refused.get_data(as_text=True)
    assert refused.status_code == 404 and "页面不存在" in html
    assert "金属材料室温拉伸试验" not in html and "T-CD-MAT" not in html  # the number is what was typed; nothing more
    # B's order, listings and instruments are nowhere on A's pages
    for page in ("/workbench/today", "/workbench/orders", "/workbench/listings", "/workbench/instruments",
                 "/workbench/money", "/workbench/group-buys", "/workbench/inbox"):
        text = staff.get(page).get_data(as_text=True)
        for secret in (numbers["B"], OBJECTS["B"]["listings"], OBJECTS["B"]["instruments"], "金属材料室温拉伸试验"):
            assert secret not in text, (page, secret)
    forbidden = _client(app, "enterprise").get("/console/users")
    assert "没有权限" in forbidden.get_data(as_text=True) and "Traceback" not in forbidden.get_data(as_text=True)


def test_every_form_refuses_the_wrong_role(matrix) -> None:  # type: ignore[no-untyped-def]
    """POST routes: an enterprise user is refused everywhere, lab staff on the console, a platform admin on
    the workbench, each with a valid CSRF token (so the role check, not CSRF, is what refuses)."""
    app, numbers, user_id = matrix
    posts = sorted({r.rule for r in app.url_map.iter_rules() if "POST" in r.methods
                    and r.rule.startswith(("/workbench", "/console")) and not r.rule.startswith(SKIP)})
    cases: list[tuple[str, Callable[[str], bool]]] = [
        ("enterprise", lambda rule: True),
        ("lab_staff", lambda rule: rule.startswith("/console")),
        ("platform_admin", lambda rule: rule.startswith("/workbench")),
    ]
    for who, applies in cases:
        client = _client(app, who)
        token = csrf_of(client.get("/login").get_data(as_text=True))
        for rule in filter(applies, posts):
            path = re.sub(r"<(?:int:)?(step|weekday|application_id|campaign_id|notification_id)>", "1",
                          rule)
            response = client.post(_fill(path, "A", numbers, user_id), data={"csrf_token": token})
            assert response.status_code == 403, (who, rule, response.status_code)
    # and the orders did not move
    assert cli(app, "orders", "ledger").exit_code == 0
