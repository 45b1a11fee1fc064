"""入网审核 through the pages: the institution's admin writes a listing and an instrument as drafts and
submits them; the platform admin sends one back with a reason, approves the other; the listing turns up
for customers only once approved; a price change of a live listing waits in the console; roles."""
from __future__ import annotations

from typing import Callable

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from core.models import Instrument, Notification, Service, User
from tests.web.conftest import post_form


def test_a_draft_goes_through_review_to_the_public(web_app: Flask, client_as: Callable[[str], FlaskClient]) -> None:
    lab_admin, admin, staff = client_as("institution_admin"), client_as("platform_admin"), client_as("lab_staff")
    form = staff.get("/workbench/drafts/new").get_data(as_text=True)
    assert "只有机构管理员可以新建" in form
    assert post_form(staff, "/workbench/drafts/new", {"kind": "service"}, page="/workbench/listings").status_code == 403

    bad = post_form(lab_admin, "/workbench/drafts/new", {"kind": "service", "instrument_code": "T-CQ-FOOD-0001",
                                                        "name": "食品中甜蜜素的测定", "price_cny": "abc"},
                    page="/workbench/drafts/new")
    assert bad.status_code == 400 and "价格须为数字" in bad.get_data(as_text=True)
    assert "食品中甜蜜素的测定" in bad.get_data(as_text=True)  # what was typed stays
    made = post_form(lab_admin, "/workbench/drafts/new", {"kind": "service", "instrument_code": "T-CQ-FOOD-0001",
                                                         "name": "食品中甜蜜素的测定", "price_cny": "180",
                                                         "turnaround_days": "4"}, page="/workbench/drafts/new",
                     follow_redirects=True).get_data(as_text=True)
    assert "已保存草稿“食品中甜蜜素的测定”" in made and "草稿" in made
    instrument = post_form(lab_admin, "/workbench/drafts/new", {"kind": "instrument", "name": "原子荧光光谱仪",
                                                               "classification_code": "0104", "value_wan": "38.5"},
                           page="/workbench/drafts/new?kind=instrument", follow_redirects=True).get_data(as_text=True)
    assert "已保存草稿“原子荧光光谱仪”" in instrument
    with web_app.extensions["platform"].transaction(write=False) as session:
        service = session.scalar(select(Service).where(Service.name == "食品中甜蜜素的测定"))
        afs = session.scalar(select(Instrument).where(Instrument.name == "原子荧光光谱仪"))
        code, afs_code = service.code, afs.code
        assert service.review_status == "draft" and float(afs.value_cny) == 385000 and afs.platform_code
    assert web_app.test_client().get(f"/api/v1/services/{code}").status_code == 404

    for kind, obj in (("service", code), ("instrument", afs_code)):
        sent = post_form(lab_admin, "/workbench/review/submit", {"kind": kind, "code": obj}, page="/workbench/listings",
                         follow_redirects=True).get_data(as_text=True)
        assert "已提交" in sent and "入网审核" in sent
    queue = admin.get("/console/reviews").get_data(as_text=True)
    assert f'id="review-service-{code}"' in queue and f'id="review-instrument-{afs_code}"' in queue
    assert "¥180.00/样" in queue and "38.50 万元" in queue

    no_reason = post_form(admin, f"/console/reviews/instrument/{afs_code}", {"decision": "needs_changes"},
                          page="/console/reviews", follow_redirects=True).get_data(as_text=True)
    assert "请写明理由" in no_reason
    post_form(admin, f"/console/reviews/instrument/{afs_code}", {"decision": "needs_changes", "reason": "请补充主要技术指标"},
              page="/console/reviews")
    approved = post_form(admin, f"/console/reviews/service/{code}", {"decision": "approve"}, page="/console/reviews",
                         follow_redirects=True).get_data(as_text=True)
    assert "已通过，已通知提交单位" in approved and "请补充主要技术指标" in approved  # in the audit log
    assert web_app.test_client().get(f"/api/v1/services/{code}").get_json()["price_cny"] == 180
    instruments = lab_admin.get("/workbench/instruments").get_data(as_text=True)
    assert "待修改" in instruments
    with web_app.extensions["platform"].transaction(write=False) as session:
        admin_id = session.scalar(select(User.id).where(User.username == "labadmin"))
        notes = [n.body for n in session.scalars(select(Notification).where(Notification.user_id == admin_id))]
    assert any("请补充主要技术指标" in n for n in notes) and any("已通过审核" in n for n in notes)

    # a live listing's new price waits in the console; the admin approves it there
    page = lab_admin.get("/workbench/listings/T-CQ-S001/edit").get_data(as_text=True)
    assert 'value="300.00"' in page
    post_form(lab_admin, "/workbench/listings/T-CQ-S001/edit", {"price": "330", "turnaround_days": "5"})
    queue = admin.get("/console/reviews").get_data(as_text=True)
    assert "价格：300.00 → 330.00" in queue
    revision_id = queue.split('id="revision-')[1].split('"')[0]
    post_form(admin, f"/console/reviews/revisions/{revision_id}", {"decision": "approve"}, page="/console/reviews")
    assert web_app.test_client().get("/api/v1/services/T-CQ-S001").get_json()["price_cny"] == 330
    assert staff.get("/console/reviews").status_code == 403
