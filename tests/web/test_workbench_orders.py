"""The lab workbench's daily work as lab staff meet it: 今日待办 counted from the orders, the order list
with its filters, one order's page (customer, samples, money, a Chinese timeline) and its steps, the
report upload, rating replies, and the inbox with its badge. Orders are made through the JSON API."""
from __future__ import annotations

import re
from datetime import datetime, timedelta
from io import BytesIO
from pathlib import Path
from typing import Callable
from zoneinfo import ZoneInfo

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select, update

from core.models import Notification, Order, OrderEvent, Report, Role, User
from core.services.people.users import create_admin
from tests.conftest import cli
from tests.orders.conftest import OTHER_CREDIT_CODE, Market, build_market, pdf_file
from tests.web.conftest import build_web_app, csrf_of, post_form, sign_in

SHANGHAI = ZoneInfo("Asia/Shanghai")


@pytest.fixture
def web_app(app_factory: Callable[..., Flask], tmp_path: Path) -> Flask:
    # many sign-ins from one test address: the per-address sign-in limit is for the real world
    return build_web_app(app_factory(tmp_path / "app", RATE_LIMIT_LOGIN_PER_IP="100000"))


@pytest.fixture
def market(web_app: Flask) -> Market:
    return build_market(web_app)


def local_day(offset: int = 0) -> str:
    return (datetime.now(SHANGHAI).date() + timedelta(days=offset)).isoformat()


def order_in(market: Market, days: int = 5, **overrides: object) -> str:
    """A paid mail order whose samples arrive `days` local days from now."""
    return market.paid_order(delivery_date=local_day(days), **overrides)


def status_of(market: Market, number: str) -> str:
    return market.get(f"/orders/{number}", market.customer).get_json()["status"]


def steps(market: Market, number: str, *names: str) -> None:
    for name in names:
        r = market.post(f"/lab/orders/{number}/{name}", market.food_lab)
        assert r.status_code == 200, r.get_json()


def backdate_receipt(app: Flask, number: str, days: int) -> None:
    """Time travel for one order: its samples came in `days` days ago."""
    with app.extensions["platform"].transaction() as session:
        order_id = session.scalar(select(Order.id).where(Order.number == number))
        session.execute(update(OrderEvent).where(OrderEvent.order_id == order_id,
                                                 OrderEvent.to_status == "samples_received")
                        .values(at=datetime.now(ZoneInfo("UTC")) - timedelta(days=days)))


def settled_and_rated(market: Market, comment: str = "出报告很快") -> str:
    number = order_in(market)
    market.through_report(number)
    assert market.post(f"/orders/{number}/confirm", market.customer).status_code == 200
    assert market.post(f"/orders/{number}/rating", market.customer, stars=4, comment=comment).status_code == 201
    return number


def todo_count(html: str, key: str) -> int:
    found = re.search(rf'id="todo-{key}".*?<div class="count[^"]*">(\d+)</div>', html, re.S)
    assert found, f"no card {key}"
    return int(found.group(1))


def numbers_in(html: str) -> list[str]:
    """The orders a list shows, in its order (phones get cards, wider screens the table: each once)."""
    return list(dict.fromkeys(re.findall(r'href="/workbench/orders/(O\w+)"', html)))


def text_of(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def test_today_counts_each_kind_of_work_from_the_orders(web_app: Flask, market: Market,
                                                         client_as: Callable[[str], FlaskClient]) -> None:
    waiting = order_in(market, 5)
    arriving_today = order_in(market, 0)
    arriving_tomorrow = order_in(market, 1)
    steps(market, arriving_tomorrow, "accept")
    overdue, due_tomorrow = order_in(market), order_in(market)
    steps(market, overdue, "accept", "samples-received", "start-testing")
    steps(market, due_tomorrow, "accept", "samples-received")
    backdate_receipt(web_app, overdue, 6)  # 5 days' turnaround: due yesterday
    backdate_receipt(web_app, due_tomorrow, 4)  # due tomorrow
    disputed = order_in(market)
    market.through_report(disputed)
    assert market.post(f"/orders/{disputed}/dispute", market.customer, reason="结果与自检不符").status_code == 200
    rated = settled_and_rated(market)
    market.paid_order(service_code="T-CD-S001", delivery_date=local_day(0))  # another lab's: never counted here

    html = client_as("lab_staff").get("/workbench/today").get_data(as_text=True)
    expected = {"to_accept": 2, "samples_due": 2, "testing": 2, "reports_due": 1, "reports_overdue": 1,
                "disputes": 1, "ratings_unreplied": 1}
    assert {key: todo_count(html, key) for key in expected} == expected
    for label in ("待受理", "今明到样", "检测中", "报告今明到期", "报告已逾期", "纠纷待处理", "评价待回复"):
        assert label in html
    # the navigation's badge on 今日待办 is the to-accept count
    assert re.search(r'今日待办 <span class="badge[^"]*">2</span>', html)

    # each card opens the order list filtered to exactly those orders
    lab = client_as("lab_staff")
    for key, members in {"to_accept": {waiting, arriving_today}, "samples_due": {arriving_today, arriving_tomorrow},
                         "reports_overdue": {overdue}, "reports_due": {due_tomorrow}, "disputes": {disputed},
                         "ratings_unreplied": {rated}}.items():
        assert f'href="/workbench/orders?todo={key}"' in html
        listed = set(numbers_in(lab.get(f"/workbench/orders?todo={key}").get_data(as_text=True)))
        assert listed == members, key

    # staff who joined after the orders were paid see the same work
    assert cli(web_app, "users", "create-staff", "newcomer", "--institution", "T-CQ-FOOD",
               "--password", "newcomer-2026").exit_code == 0
    late = sign_in(web_app.test_client(), "newcomer", "newcomer-2026").get("/workbench/today").get_data(as_text=True)
    assert todo_count(late, "to_accept") == 2 and todo_count(late, "reports_overdue") == 1


def test_the_order_list_filters_searches_and_pages(web_app: Flask, market: Market,
                                                   client_as: Callable[[str], FlaskClient]) -> None:
    other_customer = market.sign_in(name="李四", company=OTHER_CREDIT_CODE)
    hplc = order_in(market)
    lcms = order_in(market, service_code="T-CQ-S003")
    steps(market, lcms, "accept")
    li_si = market.order(who=other_customer, delivery_date=local_day(3))["number"]
    foreign = market.paid_order(service_code="T-CD-S001", delivery_date=local_day(3))
    lab = client_as("lab_staff")

    def listed(query: str = "") -> list[str]:
        page = lab.get("/workbench/orders" + query)
        assert page.status_code == 200, page.get_data(as_text=True)[:300]
        return numbers_in(page.get_data(as_text=True))

    assert listed() == [li_si, lcms, hplc]  # newest first, only this lab's
    assert foreign not in listed()
    assert listed("?status=accepted") == [lcms]
    with web_app.extensions["platform"].transaction(write=False) as session:
        lcms_instrument = session.scalar(select(Order.instrument_id).where(Order.number == lcms))
    assert listed(f"?instrument={lcms_instrument}") == [lcms]
    assert listed(f"?q={hplc[-6:].lower()}") == [hplc]  # part of the number, any case
    assert listed("?q=李四") == [li_si]  # the company or the contact
    assert listed(f"?date_from={local_day(0)}&date_to={local_day(0)}") == [li_si, lcms, hplc]
    assert listed(f"?date_from={local_day(1)}") == []
    page = lab.get("/workbench/orders?status=accepted").get_data(as_text=True)
    assert "已接单" in page and "液相色谱-串联质谱仪" in page and "¥450.00" not in page  # 2 samples x 450
    assert "¥900.00" in page

    # a bad filter is said next to its field, keeps what was typed, and the rest of the list still shows
    bad = lab.get("/workbench/orders?date_from=2026-13-45&q=张三")
    html = bad.get_data(as_text=True)
    assert bad.status_code == 400 and "日期格式应为 2026-01-31" in html
    assert 'value="2026-13-45"' in html and 'value="张三"' in html

    # twenty to a page, the filters kept on the pager's links
    for _ in range(20):
        market.order(delivery_date=local_day(3))
    first = lab.get("/workbench/orders?q=张三").get_data(as_text=True)
    assert "第 1 / 2 页" in first and len(numbers_in(first)) == 20
    assert "page=2" in first and "q=%E5%BC%A0%E4%B8%89" in first
    assert listed("?q=张三&page=2") == [lcms, hplc]


def test_the_order_page_shows_customer_samples_money_and_a_chinese_timeline(
        web_app: Flask, market: Market, client_as: Callable[[str], FlaskClient]) -> None:
    voucher = market.voucher()
    number = order_in(market, 3, voucher_id=voucher)
    api = market.get(f"/orders/{number}", market.customer).get_json()
    assert api["voucher_cny"] > 0
    html = client_as("lab_staff").get(f"/workbench/orders/{number}").get_data(as_text=True)
    text = text_of(html)
    assert "张三食品有限公司" in text and "张三" in text and "13800000000" in text
    assert "辣椒粉两袋，每袋 100 g" in text and "寄送样品" in text and local_day(3) in text
    assert f"¥{api['total_cny']:,.2f}" in text and f"¥{api['voucher_cny']:,.2f}" in text
    assert f"¥{api['cash_cny']:,.2f}" in text
    # the timeline: local times, who, from -> to in Chinese, reasons in Chinese
    with web_app.extensions["platform"].transaction(write=False) as session:
        events = session.scalars(select(OrderEvent).join(Order).where(Order.number == number)).all()
    for event in events:
        assert event.at.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M") in text
    assert "用户下单" in text and "付款中 → 已付款" in text and "已收到付款" in text and "系统" in text
    assert "payment received" not in html and "order placed" not in html
    assert "接单" in text and "拒单" in text  # the next steps of a paid order


def test_lab_staff_move_an_order_through_its_steps(web_app: Flask, market: Market,
                                                   client_as: Callable[[str], FlaskClient]) -> None:
    number = order_in(market)
    url = f"/workbench/orders/{number}"
    lab = client_as("lab_staff")

    # a step the order is not ready for is refused in Chinese, on the page
    refused = post_form(lab, f"{url}/step/start-testing", page=url, follow_redirects=True)
    assert "当前为“已付款”状态，不能“开始检测”" in refused.get_data(as_text=True)
    assert status_of(market, number) == "paid"

    accepted = post_form(lab, f"{url}/step/accept", page=url, follow_redirects=True)
    assert "已接单，已通知用户送样" in accepted.get_data(as_text=True) and status_of(market, number) == "accepted"
    # the same form sent twice does it once
    again = post_form(lab, f"{url}/step/accept", page=url, follow_redirects=True).get_data(as_text=True)
    assert "无需重复操作" in again
    with web_app.extensions["platform"].transaction(write=False) as session:
        moves = session.scalars(select(OrderEvent.to_status).join(Order).where(Order.number == number)).all()
    assert moves.count("accepted") == 1

    post_form(lab, f"{url}/step/samples-received", page=url)
    page = post_form(lab, f"{url}/step/start-testing", page=url, follow_redirects=True).get_data(as_text=True)
    assert status_of(market, number) == "testing" and "已收样 → 检测中" in text_of(page)
    assert 'id="report-form"' in page and "报告应出日期" in page

    # the report: the API's checks, said in Chinese (the plain form flashes them, upload.js gets JSON)
    token = csrf_of(page)
    word = lab.post(f"{url}/report", data={"csrf_token": token, "file": (BytesIO(b"PK\x03\x04 docx"), "report.docx")},
                    content_type="multipart/form-data", follow_redirects=True)
    assert "报告须为 PDF 文件" in word.get_data(as_text=True) and status_of(market, number) == "testing"
    as_json = lab.post(f"{url}/report", data={"csrf_token": token, "file": (BytesIO(b"GIF89a"), "scan.pdf")},
                       content_type="multipart/form-data", headers={"Accept": "application/json"})
    assert as_json.status_code == 400 and as_json.get_json()["error"]["message"] == "报告须为 PDF 文件。"
    missing = lab.post(f"{url}/report", data={"csrf_token": token}, headers={"Accept": "application/json"})
    assert missing.status_code == 400 and "请选择要上传的检测报告" in missing.get_json()["error"]["message"]

    done = lab.post(f"{url}/report", data={"csrf_token": token, "file": (pdf_file(), "检测报告.pdf")},
                    content_type="multipart/form-data", headers={"Accept": "application/json"})
    assert done.status_code == 200 and done.get_json() == {"ok": True, "redirect": url}
    page = lab.get(url).get_data(as_text=True)
    assert "报告已上传" in page and status_of(market, number) == "report_issued"
    assert "检测中 → 报告已出" in text_of(page) and "已上传检测报告" in page and 'id="report"' in page
    assert 'id="report-form"' not in page and "等待用户确认" in page
    # a second upload (a double submit) is refused and leaves the one report
    twice = lab.post(f"{url}/report", data={"csrf_token": token, "file": (pdf_file(), "again.pdf")},
                     content_type="multipart/form-data", follow_redirects=True)
    assert "当前为“报告已出”状态，不能“出具报告”" in twice.get_data(as_text=True)
    with web_app.extensions["platform"].transaction(write=False) as session:
        assert len(session.scalars(select(Report).join(Order).where(Order.number == number)).all()) == 1


def test_rejecting_needs_a_reason_and_keeps_what_was_typed(market: Market,
                                                          client_as: Callable[[str], FlaskClient]) -> None:
    number = order_in(market)
    url = f"/workbench/orders/{number}"
    lab = client_as("lab_staff")
    empty = post_form(lab, f"{url}/reject", {"reason": "   "}, page=url)
    html = empty.get_data(as_text=True)
    assert empty.status_code == 400 and 'id="reason-error"' in html and "请填写拒单理由" in html
    too_long = "仪器检修" * 300
    long = post_form(lab, f"{url}/reject", {"reason": too_long}, page=url)
    assert long.status_code == 400 and "不能超过 1000 个字" in long.get_data(as_text=True)
    assert too_long in long.get_data(as_text=True)  # what was typed is still in the box
    assert status_of(market, number) == "paid"

    rejected = post_form(lab, f"{url}/reject", {"reason": "仪器检修，本周无法检测"}, page=url, follow_redirects=True)
    text = text_of(rejected.get_data(as_text=True))
    assert status_of(market, number) == "rejected"
    assert "已拒单" in text and "已付款 → 已拒单" in text and "仪器检修，本周无法检测" in text
    # the order's state refuses a second rejection, in Chinese
    again = post_form(lab, f"{url}/reject", {"reason": "再拒一次"}, page=url, follow_redirects=True)
    assert "无需重复操作" in again.get_data(as_text=True)


def test_lab_replies_to_a_rating(market: Market, client_as: Callable[[str], FlaskClient]) -> None:
    number = settled_and_rated(market, comment="出报告很快，数据清楚")
    url = f"/workbench/orders/{number}"
    lab = client_as("lab_staff")
    page = lab.get(url).get_data(as_text=True)
    assert "★★★★" in page and "出报告很快，数据清楚" in page and "回复评价" in page
    empty = post_form(lab, f"{url}/rating-reply", {"reply": ""}, page=url)
    assert empty.status_code == 400 and "请填写回复内容" in empty.get_data(as_text=True)
    replied = post_form(lab, f"{url}/rating-reply", {"reply": "感谢认可，欢迎再来"}, page=url, follow_redirects=True)
    html = replied.get_data(as_text=True)
    assert "已回复评价" in html and 'id="lab-reply"' in html and "感谢认可，欢迎再来" in html
    today = client_as("lab_staff").get("/workbench/today").get_data(as_text=True)
    assert todo_count(today, "ratings_unreplied") == 0
    # an order nobody rated has nothing to reply to: refused in Chinese
    plain = order_in(market)
    refused = post_form(lab, f"/workbench/orders/{plain}/rating-reply", {"reply": "谢谢"}, page=url,
                        follow_redirects=True)
    assert "该订单还没有评价，无法回复" in refused.get_data(as_text=True)


def test_the_inbox_lists_messages_newest_first_and_marks_them_read(
        web_app: Flask, market: Market, client_as: Callable[[str], FlaskClient]) -> None:
    first, second = order_in(market), order_in(market)
    lab = client_as("lab_staff")
    html = lab.get("/workbench/inbox").get_data(as_text=True)
    assert "2 条未读" in html and re.search(r'消息 <span class="badge[^"]*">2</span>', html)
    assert html.index(second) < html.index(first)  # newest first
    assert html.count("新的已付款订单") == 2 and html.count('data-read="0"') == 2
    with web_app.extensions["platform"].transaction(write=False) as session:
        lab_id = session.scalar(select(User.id).where(User.username == "lab"))
        mine = session.scalar(select(Notification.id).join(Order, Notification.order_id == Order.id)
                              .where(Order.number == first, Notification.user_id == lab_id))
        others = session.scalar(select(Notification.id).where(Notification.user_id != lab_id))
    # one read: through "查看订单", which opens the order
    opened = post_form(lab, f"/workbench/inbox/{mine}/read", {"next": f"/workbench/orders/{first}"},
                       page="/workbench/inbox")
    assert opened.headers["Location"] == f"/workbench/orders/{first}"
    html = lab.get("/workbench/inbox").get_data(as_text=True)
    assert "1 条未读" in html and html.count('data-read="0"') == 1
    assert re.search(r'消息 <span class="badge[^"]*">1</span>', html)
    post_form(lab, "/workbench/inbox/read-all", page="/workbench/inbox")
    html = lab.get("/workbench/inbox").get_data(as_text=True)
    assert "0 条未读" in html and 'data-read="0"' not in html
    assert not re.search(r'消息 <span class="badge', html)
    # someone else's message is the same 404 as a missing one
    assert post_form(lab, f"/workbench/inbox/{others}/read", page="/workbench/inbox").status_code == 404


def test_only_the_orders_lab_may_see_and_act(web_app: Flask, market: Market,
                                            client_as: Callable[[str], FlaskClient]) -> None:
    number = order_in(market)
    pages = ["/workbench/today", "/workbench/orders", f"/workbench/orders/{number}", "/workbench/inbox"]
    anonymous = web_app.test_client()
    for page in pages:
        response = anonymous.get(page)
        assert response.status_code == 302 and f"/login?next={page}" in response.headers["Location"], page
    token = csrf_of(anonymous.get("/login").get_data(as_text=True))
    posted = anonymous.post(f"/workbench/orders/{number}/step/accept", data={"csrf_token": token})
    assert posted.status_code == 302 and "/login" in posted.headers["Location"]

    with web_app.extensions["platform"].transaction() as session:
        create_admin(session, "qiye", "qiye-password-2026", "某企业").role = Role.enterprise
    enterprise = sign_in(web_app.test_client(), "qiye", "qiye-password-2026")
    admin = client_as("platform_admin")
    for who in (enterprise, admin):
        for page in pages:
            response = who.get(page)
            assert response.status_code == 403 and "没有权限" in response.get_data(as_text=True), page
        assert post_form(who, f"/workbench/orders/{number}/step/accept", page="/login").status_code == 403

    # staff of another institution: the order is the same 404 as a missing one, and stays as it was
    assert cli(web_app, "users", "create-staff", "matlab", "--institution", "T-CD-MAT",
               "--password", "matlab-2026").exit_code == 0
    other = sign_in(web_app.test_client(), "matlab", "matlab-2026")
    missing = other.get("/workbench/orders/O20990101DEADBEEF")
    foreign = other.get(f"/workbench/orders/{number}")
    assert foreign.status_code == missing.status_code == 404 and "页面不存在" in foreign.get_data(as_text=True)
    for action, data in (("step/accept", {}), ("reject", {"reason": "不做"}), ("step/samples-received", {}),
                         ("rating-reply", {"reply": "谢谢"})):
        answer = post_form(other, f"/workbench/orders/{number}/{action}", data, page="/workbench/today")
        assert answer.status_code == 404, action
    upload = other.post(f"/workbench/orders/{number}/report", content_type="multipart/form-data", data={
        "csrf_token": csrf_of(other.get("/workbench/today").get_data(as_text=True)), "file": (pdf_file(), "r.pdf")})
    assert upload.status_code == 404 and status_of(market, number) == "paid"
    assert number not in other.get("/workbench/orders").get_data(as_text=True)
    # the institution's admin works the same orders as its staff
    assert client_as("institution_admin").get(f"/workbench/orders/{number}").status_code == 200
