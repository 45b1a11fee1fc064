"""What staff receive: template messages on the official account for bound staff (through the
WeChat stand-in), the daily alerts, admins' alerts, e-mail copies (a local SMTP sink), unread counts."""
from __future__ import annotations

import dataclasses
from datetime import datetime, time, timedelta
from pathlib import Path
from typing import Any, Callable, Iterator
from zoneinfo import ZoneInfo

import pytest
from flask import Flask

from core.models import Notification, User
from core.services.people.notifications import mark_read, unread_count
from core.services.people.staff_deadlines import alert_deadlines
from tests.bot.test_wechat import TOKEN
from tests.conftest import cli, serving
from tests.fake_wechat import UNREACHABLE_OPENID, FakeWeChat
from tests.orders.conftest import NO_LOGIN_LIMIT, Market, build_market
from tests.people.smtp_sink import SmtpSink
from tests.people.test_wechat_binding import _scan
from workers.jobs import send_notification, send_staff_email
from workers.runtime import WorkerRuntime, configure

SHANGHAI = ZoneInfo("Asia/Shanghai")
BASE = "https://yiqi.example.cn"
SERVICE = "食品中苯甲酸、山梨酸的测定"  # T-CQ-S002, 200 CNY a sample, 5 days' turnaround
TEMPLATES = {"WECHAT_TEMPLATE_ORDER_PAID": "tmpl-paid", "WECHAT_TEMPLATE_SAMPLES_DUE": "tmpl-samples",
             "WECHAT_TEMPLATE_REPORT_OVERDUE": "tmpl-overdue", "WECHAT_TEMPLATE_DISPUTE": "tmpl-dispute",
             "WECHAT_TEMPLATE_RATING": "tmpl-rating", "WECHAT_TEMPLATE_VOUCHER_APPLICATION": "tmpl-voucher"}


@pytest.fixture
def market(app_factory: Callable[..., Flask], tmp_path: Path, fake_wechat: str) -> Market:
    app = app_factory(tmp_path, **NO_LOGIN_LIMIT, **TEMPLATES, WECHAT_TOKEN=TOKEN, WECHAT_APP_ID="wx-official",
                      WECHAT_APP_SECRET="secret", WECHAT_API_BASE_URL=fake_wechat, PUBLIC_BASE_URL=BASE,
                      JOB_RETRY_INTERVALS="0,0", STAFF_ALERT_HOUR="0")
    return build_market(app)


def bind(market: Market, who: dict[str, str], openid: str) -> None:
    """The staff member scans the workbench's code with the phone whose openid this is."""
    scene = market.post("/lab/wechat-binding", who).get_json()["scene"]
    assert "已绑定" in _scan(market.app, scene, openid)


def run_worker(market: Market) -> None:
    result = cli(market.app, "worker", "--burst", "--simple")
    assert result.exit_code == 0, result.output


def inbox(market: Market, who: dict[str, str]) -> list[dict[str, Any]]:
    return market.get("/me/notifications", who).get_json()["items"]


def shown(iso: str) -> str:
    return datetime.fromisoformat(iso).astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M")


def sent_to(openid: str) -> list[dict[str, Any]]:
    return [t for t in FakeWeChat.templates() if t["touser"] == openid]


def test_a_paid_order_reaches_the_bound_staff_once(market: Market) -> None:
    colleague = market.sign_in("lab_staff", "T-CQ-FOOD", name="未绑定同事")
    bind(market, market.food_lab, "oFood")
    number = market.paid_order()
    run_worker(market)

    note = inbox(market, market.food_lab)[0]
    assert note["kind"] == "order_paid" and note["wechat_status"] == "sent"
    assert FakeWeChat.templates() == [{
        "touser": "oFood", "template_id": "tmpl-paid", "url": f"{BASE}/workbench/orders/{number}",
        "data": {"character_string1": {"value": number}, "thing2": {"value": SERVICE},
                 "thing3": {"value": "张三食品有限公司"}, "amount4": {"value": "400.00元"},
                 "time5": {"value": shown(note["created_at"])}}}]
    # the colleague without a binding has the inbox copy, and no error
    theirs = inbox(market, colleague)[0]
    assert theirs["kind"] == "order_paid" and theirs["wechat_status"] == "skipped"

    # the job run again (a redelivery) sends nothing more
    configure(WorkerRuntime(market.app.extensions["platform"], market.app.extensions["search"]))
    assert send_notification(note["id"]) == "sent"
    run_worker(market)
    assert len(FakeWeChat.templates()) == 1


def test_a_refused_template_is_retried_then_marked_failed(market: Market) -> None:
    bind(market, market.food_lab, UNREACHABLE_OPENID)
    market.paid_order()
    run_worker(market)
    assert len(sent_to(UNREACHABLE_OPENID)) == 3  # the first try and two retries
    note = inbox(market, market.food_lab)[0]
    assert note["kind"] == "order_paid" and note["wechat_status"] == "failed"


def test_samples_due_tomorrow_and_overdue_reports_are_told_once(market: Market) -> None:
    bind(market, market.food_lab, "oFood")
    platform = market.app.extensions["platform"]
    today = datetime.now(SHANGHAI).date()
    tomorrow = today + timedelta(days=1)
    due_tomorrow = market.paid_order(delivery_date=tomorrow.isoformat())
    in_testing = market.paid_order()
    for number, steps in ((due_tomorrow, ("accept",)), (in_testing, ("accept", "samples-received"))):
        for step in steps:
            assert market.post(f"/lab/orders/{number}/{step}", market.food_lab).status_code == 200
    run_worker(market)
    FakeWeChat.calls.clear()

    # the sweep's daily look (STAFF_ALERT_HOUR=0 here: any hour will do), then the notification jobs
    assert cli(market.app, "orders", "sweep").exit_code == 0
    run_worker(market)
    assert FakeWeChat.templates() == [{
        "touser": "oFood", "template_id": "tmpl-samples", "url": f"{BASE}/workbench/orders/{due_tomorrow}",
        "data": {"character_string1": {"value": due_tomorrow}, "thing2": {"value": SERVICE},
                 "thing3": {"value": "张三食品有限公司"}, "time4": {"value": tomorrow.isoformat()}}}]
    note = inbox(market, market.food_lab)[0]
    assert note["title"] == "明天到样提醒" and "明天" in note["body"] and due_tomorrow in note["body"]

    # a week later the report promised in 5 days is overdue; checks repeated tell nobody twice
    week_later = datetime.combine(today + timedelta(days=7), time(9, 30), tzinfo=SHANGHAI)
    with platform.transaction() as session:
        assert alert_deadlines(session, platform.settings, week_later) == {"samples_due": 0, "report_overdue": 1}
    with platform.transaction() as session:
        assert alert_deadlines(session, platform.settings, week_later) == {"samples_due": 0, "report_overdue": 0}
        early = dataclasses.replace(platform.settings, staff_alert_hour=8)
        assert alert_deadlines(session, early, week_later.replace(hour=7)) == {"samples_due": 0, "report_overdue": 0}
    assert cli(market.app, "orders", "sweep").exit_code == 0
    run_worker(market)
    overdue = [t for t in FakeWeChat.templates() if t["template_id"] == "tmpl-overdue"]
    assert len(FakeWeChat.templates()) == 2 and len(overdue) == 1
    assert overdue[0]["url"].endswith(f"/workbench/orders/{in_testing}")
    assert overdue[0]["data"]["time4"] == {"value": (today + timedelta(days=5)).isoformat()}
    assert "已逾期 2 天" in inbox(market, market.food_lab)[0]["body"]


def test_disputes_ratings_and_voucher_applications_reach_labs_and_admins(market: Market) -> None:
    bind(market, market.food_lab, "oFood")
    bind(market, market.admin, "oAdmin")
    disputed, rated = market.paid_order(), market.paid_order()
    for number in (disputed, rated):
        market.through_report(number)
    run_worker(market)
    FakeWeChat.calls.clear()  # the paid-order messages: seen above
    assert market.post(f"/orders/{disputed}/dispute", market.customer, reason="报告中的样品编号与送检不符").status_code == 200
    assert market.post(f"/orders/{rated}/confirm", market.customer).status_code == 200
    assert market.post(f"/orders/{rated}/rating", market.customer, stars=5, comment="出报告很快").status_code == 201
    market.verify_company()
    assert market.post("/vouchers", market.customer, requested_cny=5000, purpose="食品安全检测").status_code == 201
    run_worker(market)

    lab = {t["template_id"]: t for t in sent_to("oFood")}
    assert set(lab) == {"tmpl-dispute", "tmpl-rating"}
    assert lab["tmpl-dispute"]["data"]["thing3"] == {"value": "报告中的样品编号与送检不符"}
    assert lab["tmpl-rating"]["data"]["thing3"] == {"value": "5星 出报告很快"}
    assert lab["tmpl-rating"]["url"] == f"{BASE}/workbench/orders/{rated}"

    admin = {t["template_id"]: t for t in sent_to("oAdmin")}
    assert set(admin) == {"tmpl-dispute", "tmpl-voucher"}
    assert admin["tmpl-dispute"]["url"] == f"{BASE}/workbench/orders/{disputed}"
    assert admin["tmpl-voucher"]["data"]["thing1"]["value"].startswith("创新券申请：")
    assert "url" not in admin["tmpl-voucher"]  # no order to open
    kinds = {n["kind"]: n for n in inbox(market, market.admin)}
    assert {"dispute", "voucher_application"} <= set(kinds)
    assert "5,000.00 元" in kinds["voucher_application"]["body"] and "请在平台后台审核" in kinds["voucher_application"]["body"]
    assert disputed in kinds["dispute"]["body"] and "裁定" in kinds["dispute"]["body"]


@pytest.fixture
def smtp_sink() -> Iterator[SmtpSink]:
    sink = SmtpSink()
    with serving(sink):
        yield sink
    sink.server_close()


def test_staff_notifications_are_emailed_once_when_smtp_is_set(app_factory: Callable[..., Flask], tmp_path: Path,
                                                               smtp_sink: SmtpSink) -> None:
    market = build_market(app_factory(tmp_path, **NO_LOGIN_LIMIT, PUBLIC_BASE_URL=BASE, SMTP_HOST="127.0.0.1",
                                      SMTP_PORT=str(smtp_sink.port), SMTP_STARTTLS="0", SMTP_FROM="noreply@yiqi.example.cn",
                                      SMTP_FALLBACK_TO="lab-desk@yiqi.example.cn"))
    number = market.paid_order()
    run_worker(market)

    assert len(smtp_sink.messages) == 1  # the lab's one staff member; the customer is not e-mailed
    sender, recipients, message = smtp_sink.messages[0]
    assert (sender, recipients) == ("noreply@yiqi.example.cn", ["lab-desk@yiqi.example.cn"])
    assert "新的已付款订单" in message["Subject"] and "食品实验室" in message["Subject"]
    text = message.get_content()
    assert number in text and f"{BASE}/workbench/orders/{number}" in text and "致 食品实验室" in text

    note = inbox(market, market.food_lab)[0]
    assert note["wechat_status"] == "skipped"  # no WeChat here: the inbox and the e-mail
    configure(WorkerRuntime(market.app.extensions["platform"], market.app.extensions["search"]))
    assert send_staff_email(note["id"]) == "already sent"
    assert len(smtp_sink.messages) == 1


def test_the_unread_count(market: Market) -> None:
    market.paid_order(), market.paid_order()
    platform = market.app.extensions["platform"]
    with platform.transaction() as session:
        staff = session.query(User).filter_by(display_name="食品实验室").one()
        assert unread_count(session, staff) == 2
        first = session.query(Notification).filter_by(user_id=staff.id).order_by(Notification.id).first()
        mark_read(session, staff, first.id)
        assert unread_count(session, staff) == 1

