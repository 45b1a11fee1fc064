"""入网审核 as its users see it: a draft is neither searchable nor bookable; submitted, it waits in the
console; rejected it goes back to draft with the reason told to its institution; approved it is live;
a change to a live listing waits while the live price stays; every decision is in the audit log."""
from __future__ import annotations

import json
from typing import Any, Iterator

import pytest
from flask import Flask
from sqlalchemy import select, update

from core.db import unit_of_work
from core.errors import Conflict, Forbidden, InvalidInput, NotFound
from core.models import Institution, Notification, Role, Service, User
from core.models.review import APPROVED, DRAFT, NEEDS_CHANGES, SUBMITTED
from core.services.catalog import review, revisions
from core.services.catalog.lab_listings import ListingChanges, update_listing
from core.services.catalog.queries import service_detail
from tests.conftest import cli
from tests.orders.conftest import Market, build_market


@pytest.fixture
def market(app: Flask) -> Iterator[Market]:
    m = build_market(app)
    with unit_of_work(app.extensions["platform"].session_factory) as session:
        food = session.scalar(select(Institution).where(Institution.code == "T-CQ-FOOD"))
        session.add_all([User(username="cq-admin", display_name="重庆管理员", role=Role.institution_admin, institution_id=food.id),
                         User(username="hz-admin", display_name="杭州管理员", role=Role.institution_admin,
                              institution_id=session.scalar(select(Institution.id).where(Institution.code == "T-HZ-ATC"))),
                         User(username="root", display_name="平台审核员", role=Role.platform_admin)])
        # a new listing written as a draft on the HPLC
        session.execute(update(Service).where(Service.code == "T-CQ-S002").values(review_status=DRAFT))
    yield m


def people(session: Any) -> dict[str, User]:
    return {u.username: u for u in session.scalars(select(User).where(User.username.in_(["cq-admin", "hz-admin", "root"])))}


def searchable(app: Flask) -> set[str]:
    assert cli(app, "search", "reindex").exit_code == 0
    return {h.doc.code for h in app.extensions["search"].search("食品 苯甲酸 山梨酸 防腐剂", 20).hits}


def test_a_draft_is_not_live_until_approved_and_a_rejection_says_why(market: Market) -> None:
    app = market.app
    assert "T-CQ-S002" not in searchable(app)
    assert market.client.get("/api/v1/services/T-CQ-S002").status_code == 404
    from datetime import date, timedelta
    refused = market.post("/orders", market.customer, service_code="T-CQ-S002", samples=1, sample_description="饮料",
                          mode="mail", delivery_date=(date.today() + timedelta(days=3)).isoformat())
    assert refused.status_code == 422 and "尚未通过平台审核" in refused.get_json()["error"]["message"]

    factory = app.extensions["platform"].session_factory
    with unit_of_work(factory) as session:
        who = people(session)
        with pytest.raises(Conflict):  # only a submitted object can be decided
            review.decide(session, who["root"], "service", "T-CQ-S002", "approve")
        with pytest.raises(NotFound):  # another institution's admin does not see it
            review.submit(session, who["hz-admin"], "service", "T-CQ-S002")
        with pytest.raises(Forbidden):
            review.submit(session, who["root"], "service", "T-CQ-S002")
        assert review.submit(session, who["cq-admin"], "service", "T-CQ-S002").status == SUBMITTED
        assert [i.code for i in review.waiting(session)] == ["T-XA-PEND", "T-CQ-S002"]  # the mini catalog's pending lab
        with pytest.raises(InvalidInput, match="请写明理由"):
            review.decide(session, who["root"], "service", "T-CQ-S002", "reject", "  ")
        assert review.decide(session, who["root"], "service", "T-CQ-S002", "reject", "价格单位不清").status == DRAFT
        note = session.scalar(select(Notification).where(Notification.user_id == who["cq-admin"].id,
                                                         Notification.kind == "review"))
        assert "被驳回" in note.body and "价格单位不清" in note.body
    assert "T-CQ-S002" not in searchable(app)

    with unit_of_work(factory) as session:
        who = people(session)
        review.submit(session, who["cq-admin"], "service", "T-CQ-S002")
        assert review.decide(session, who["root"], "service", "T-CQ-S002", "needs_changes", "补充样品要求").status == NEEDS_CHANGES
        review.submit(session, who["cq-admin"], "service", "T-CQ-S002")
        assert review.decide(session, who["root"], "service", "T-CQ-S002", "approve").status == APPROVED
        log = [(e.action, e.actor_name, e.reason) for e in review.history(session, "service", "T-CQ-S002")]
    assert log == [("imported_approved", "目录导入", None), ("submitted", "重庆管理员", None), ("rejected", "平台审核员", "价格单位不清"),
                   ("submitted", "重庆管理员", None), ("needs_changes", "平台审核员", "补充样品要求"),
                   ("submitted", "重庆管理员", None), ("approved", "平台审核员", None)]
    assert "T-CQ-S002" in searchable(app)
    assert market.client.get("/api/v1/services/T-CQ-S002").status_code == 200


def test_a_change_to_a_live_listing_waits_and_the_live_price_stays(market: Market) -> None:
    factory = market.app.extensions["platform"].session_factory
    with unit_of_work(factory) as session:
        who = people(session)
        service, changed = update_listing(session, who["cq-admin"], "T-CQ-S001", ListingChanges(
            description="新的说明", sample_requirements=None, price_cny="350", turnaround_days=4, sample_address=None))
        assert changed and float(service.price_cny) == 300 and service.turnaround_days == 4
        pending = revisions.pending_of(session, "service", "T-CQ-S001")
        assert pending.changes["price_cny"] == {"from": "300.00", "to": "350.00"}
        assert float(service_detail(session, "T-CQ-S001")[0].price_cny) == 300  # what users see stays
    # an order placed meanwhile pays the live price
    assert market.order(service_code="T-CQ-S001", samples=1)["total_cny"] == 300

    with unit_of_work(factory) as session:
        who = people(session)
        with pytest.raises(InvalidInput):
            revisions.decide_revision(session, who["root"], pending.id, approve=False, reason="")
        revisions.decide_revision(session, who["root"], pending.id, approve=False, reason="涨价需说明依据")
        assert float(session.scalar(select(Service.price_cny).where(Service.code == "T-CQ-S001"))) == 300
        update_listing(session, who["cq-admin"], "T-CQ-S001", ListingChanges(
            description="新的说明", sample_requirements=None, price_cny="320", turnaround_days=4, sample_address=None))
        again = revisions.pending_of(session, "service", "T-CQ-S001")
        revisions.decide_revision(session, who["root"], again.id, approve=True)
        with pytest.raises(Conflict):
            revisions.decide_revision(session, who["root"], again.id, approve=True)
        assert float(session.scalar(select(Service.price_cny).where(Service.code == "T-CQ-S001"))) == 320
        actions = [e.action for e in review.history(session, "service", "T-CQ-S001")]
    assert actions == ["imported_approved", "revision_submitted", "revision_rejected", "revision_submitted",
                       "revision_approved"]


def test_import_without_approve_waits_for_review(app: Flask, write_lines: Any) -> None:
    line = {"institution": {"code": "T-NEW", "name": "新入网检测中心", "city": "宁波"},
            "instrument": {"code": "T-NEW-0001", "name": "原子吸收光谱仪", "category": "分析仪器/光谱仪器"},
            "services": [{"code": "T-NEW-S001", "name": "食品中铅的测定", "price_cny": 200}]}
    assert cli(app, "catalog", "import", str(write_lines(json.dumps(line, ensure_ascii=False)))).exit_code == 0
    with unit_of_work(app.extensions["platform"].session_factory) as session:
        inst = session.scalar(select(Institution).where(Institution.code == "T-NEW"))
        service = session.scalar(select(Service).where(Service.code == "T-NEW-S001"))
        assert inst.status.value == "pending" and service.review_status == SUBMITTED
        assert {i.code for i in review.waiting(session)} == {"T-NEW", "T-NEW-0001", "T-NEW-S001"}
    trusted = {"institution": {**line["institution"], "code": "T-NEW2"}, "instrument": {
        **line["instrument"], "code": "T-NEW2-0001"}, "services": [{"code": "T-NEW2-S001", "name": "食品中镉的测定",
                                                                   "price_cny": 220}]}
    assert cli(app, "catalog", "import", "--approve", str(write_lines(json.dumps(trusted, ensure_ascii=False)))).exit_code == 0
    with unit_of_work(app.extensions["platform"].session_factory) as session:
        assert session.scalar(select(Service.review_status).where(Service.code == "T-NEW2-S001")) == APPROVED
        assert [e.action for e in review.history(session, "service", "T-NEW2-S001")] == ["imported_approved"]
