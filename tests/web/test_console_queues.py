"""待审队列 as a platform admin meets it: what waits and for how long, voucher decisions and dispute rulings
through the same services as the JSON API, Chinese refusals that keep what was typed, and a form sent
twice that decides once and moves money once."""
from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from typing import Callable

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select, update

from core.models import OrderEvent, Refund, VoucherApplication
from tests.orders.conftest import Market, build_market
from tests.web.conftest import post_form
from web.console.queues import waited

QUEUES = "/console/queues"


def apply_for_voucher(market: Market, amount: float = 5000, purpose: str = "食品安全检测") -> int:
    market.verify_company()
    r = market.post("/vouchers", market.customer, requested_cny=amount, purpose=purpose)
    assert r.status_code == 201, r.get_json()
    return r.get_json()["id"]


def disputed_order(market: Market, voucher_id: int | None = None) -> str:
    """A 400 CNY order (2 samples × 200), paid (half by voucher if given), reported and disputed."""
    number = market.paid_order(**({"voucher_id": voucher_id} if voucher_id else {}))
    market.through_report(number)
    r = market.post(f"/orders/{number}/dispute", market.customer, reason="结果与自检不符")
    assert r.status_code == 200, r.get_json()
    return number


def refunded_cents(app: Flask, number: str) -> int:
    from core.models import Order

    with app.extensions["platform"].session_factory() as session:
        return int(session.scalar(select(func.coalesce(func.sum(Refund.amount_cents), 0))
                                  .join(Order, Order.id == Refund.order_id).where(Order.number == number)))


def age(app: Flask, voucher_id: int | None = None, number: str | None = None, by: timedelta = timedelta()) -> None:
    """Make an item look older, as if it had waited in the queue."""
    from core.models import Order

    with app.extensions["platform"].session_factory() as session:
        if voucher_id is not None:
            session.execute(update(VoucherApplication).where(VoucherApplication.id == voucher_id)
                            .values(created_at=datetime.now(timezone.utc) - by))
        if number is not None:
            order_id = session.scalar(select(Order.id).where(Order.number == number))
            session.execute(update(OrderEvent)
                            .where(OrderEvent.order_id == order_id, OrderEvent.to_status == "disputed")
                            .values(at=datetime.now(timezone.utc) - by))
        session.commit()


def item(html: str, key: str) -> str:
    found = re.search(rf'<div class="card mb-3 queue-item" id="{key}">(.*?)</form>\s*</div>\s*</div>', html, re.S)
    return found.group(1) if found else ""


def test_queues_are_for_platform_admins(client_as: Callable[[str], FlaskClient]) -> None:
    anonymous = client_as("anonymous").get(QUEUES)
    assert anonymous.status_code == 302 and "/login?next=/console/queues" in anonymous.headers["Location"]
    lab = client_as("lab_staff")
    denied = lab.get(QUEUES)
    assert denied.status_code == 403 and "没有权限" in denied.get_data(as_text=True)
    assert post_form(lab, f"{QUEUES}/vouchers/1", {"decision": "approve"}, page="/workbench/today").status_code == 403
    assert post_form(client_as("institution_admin"), f"{QUEUES}/disputes/X", {"outcome": "release"},
                     page="/workbench/today").status_code == 403
    empty = client_as("platform_admin").get(QUEUES).get_data(as_text=True)
    assert "没有待审核的创新券申请" in empty and "没有待裁定的订单争议" in empty


def test_each_item_says_what_it_is_and_how_long_it_has_waited(web_app: Flask,
                                                              client_as: Callable[[str], FlaskClient]) -> None:
    market = build_market(web_app)
    voucher = market.voucher(amount=5000)
    application = apply_for_voucher(market, 3000, "购置前的委托检测")
    number = disputed_order(market, voucher)
    age(web_app, voucher_id=application, by=timedelta(hours=3, minutes=10))
    age(web_app, number=number, by=timedelta(days=2, hours=1))

    admin = client_as("platform_admin")
    html = admin.get(QUEUES).get_data(as_text=True)
    card = item(html, f"voucher-{application}")
    assert "张三食品有限公司" in card and "¥3,000.00" in card and "购置前的委托检测" in card
    assert "已等待 3 小时" in card
    assert re.search(r'name="amount_cny"[^>]*value="3000.00"', card)  # prefilled with what was asked
    dispute = item(html, f"dispute-{number}")
    assert "已等待 2 天" in dispute and "结果与自检不符" in dispute and "食品中苯甲酸、山梨酸的测定" in dispute
    amounts = re.search(r'class="total">(.*?)</td><td class="voucher">(.*?)</td>\s*<td class="cash">(.*?)</td>'
                        r'<td class="refunded">(.*?)</td>', dispute)
    assert amounts and amounts.groups() == ("¥400.00", "¥200.00", "¥200.00", "¥0.00")
    # the navigation's badge counts both, on every console page
    badge = re.search(r'href="/console/queues">待审队列 <span class="badge[^"]*">(\d+)</span>', html)
    assert badge and badge.group(1) == "2"
    assert 'href="/console/queues">待审队列 <span class="badge' in admin.get("/console/dashboard").get_data(as_text=True)

    start = datetime(2026, 1, 1, 8, tzinfo=timezone.utc)
    assert waited(start, start + timedelta(minutes=40)) == "已等待 40 分钟"
    assert waited(start, start + timedelta(days=2, hours=21)) == "已等待 2 天"
    assert waited(start, start + timedelta(seconds=20)) == "刚刚提交"


def test_approving_a_voucher_once_even_when_the_form_is_sent_twice(web_app: Flask,
                                                                   client_as: Callable[[str], FlaskClient]) -> None:
    market = build_market(web_app)
    application = apply_for_voucher(market, 5000)
    admin = client_as("platform_admin")
    form = {"decision": "approve", "amount_cny": "4,000", "valid_until": "2030-06-30", "note": "按企业规模核定"}
    done = post_form(admin, f"{QUEUES}/vouchers/{application}", form, page=QUEUES, follow_redirects=True)
    html = done.get_data(as_text=True)
    assert done.status_code == 200 and "已批准 张三食品有限公司 的创新券 ¥4,000.00，有效期至 2030-06-30。" in html
    assert f'id="voucher-{application}"' not in html and "没有待审核的创新券申请" in html
    mine = market.get("/vouchers", market.customer).get_json()["items"][0]
    assert (mine["status"], mine["approved_cny"], mine["valid_until"]) == ("approved", 4000, "2030-06-30")

    again = post_form(admin, f"{QUEUES}/vouchers/{application}", {**form, "amount_cny": "5000"}, page=QUEUES,
                      follow_redirects=True)
    assert "这份申请已经审核过了。" in again.get_data(as_text=True) and "alert-danger" in again.get_data(as_text=True)
    assert market.get("/vouchers", market.customer).get_json()["items"][0]["approved_cny"] == 4000
    rejected_late = post_form(admin, f"{QUEUES}/vouchers/{application}", {"decision": "reject", "reason": "重复"},
                              page=QUEUES, follow_redirects=True)
    assert "这份申请已经审核过了。" in rejected_late.get_data(as_text=True)
    assert market.get("/vouchers", market.customer).get_json()["items"][0]["status"] == "approved"
    market.assert_books_balance()


def test_bad_voucher_decisions_are_refused_in_chinese_keeping_what_was_typed(
        web_app: Flask, client_as: Callable[[str], FlaskClient]) -> None:
    market = build_market(web_app)
    application = apply_for_voucher(market, 5000)
    admin = client_as("platform_admin")
    url = f"{QUEUES}/vouchers/{application}"

    not_money = post_form(admin, url, {"decision": "approve", "amount_cny": "五千", "valid_until": "2030-01-01"},
                          page=QUEUES)
    html = not_money.get_data(as_text=True)
    assert not_money.status_code == 400 and "批准金额须为金额数字" in html and 'value="五千"' in html
    assert 'value="2030-01-01"' in html and "Traceback" not in html

    too_much = post_form(admin, url, {"decision": "approve", "amount_cny": "30000", "valid_until": "2030-01-01"},
                         page=QUEUES)
    html = too_much.get_data(as_text=True)
    assert too_much.status_code == 422 and "批准金额须在 0.01 到 20,000.00 元之间" in html and 'value="30000"' in html

    past = post_form(admin, url, {"decision": "approve", "amount_cny": "100", "valid_until": "2001-01-01"}, page=QUEUES)
    assert past.status_code == 400 and "有效期不能早于今天" in past.get_data(as_text=True)

    no_reason = post_form(admin, url, {"decision": "reject", "reason": "  "}, page=QUEUES)
    assert no_reason.status_code == 400 and "请填写驳回原因" in no_reason.get_data(as_text=True)
    assert market.get("/vouchers", market.customer).get_json()["items"][0]["status"] == "pending"

    rejected = post_form(admin, url, {"decision": "reject", "reason": "用途与科技创新无关"}, page=QUEUES,
                         follow_redirects=True)
    assert "已驳回 张三食品有限公司 的创新券申请" in rejected.get_data(as_text=True)
    mine = market.get("/vouchers", market.customer).get_json()["items"][0]
    assert (mine["status"], mine["decision_reason"], mine["approved_cny"]) == ("rejected", "用途与科技创新无关", 0)


def test_a_partial_refund_ruled_twice_moves_money_once(web_app: Flask, client_as: Callable[[str], FlaskClient]) -> None:
    market = build_market(web_app)
    number = disputed_order(market, market.voucher(amount=5000))
    admin = client_as("platform_admin")
    url = f"{QUEUES}/disputes/{number}"

    missing = post_form(admin, url, {"outcome": "partial", "refund_cny": "", "reason": "复测一半指标"}, page=QUEUES)
    html = missing.get_data(as_text=True)
    assert missing.status_code == 400 and "请填写退款金额" in html and 'value="复测一半指标"' in html
    too_much = post_form(admin, url, {"outcome": "partial", "refund_cny": "400"}, page=QUEUES)
    assert too_much.status_code == 400 and "部分退款金额须在 0.01 到 399.99 元之间" in too_much.get_data(as_text=True)
    no_outcome = post_form(admin, url, {"refund_cny": "150"}, page=QUEUES)
    assert no_outcome.status_code == 400 and "请选择裁定结果" in no_outcome.get_data(as_text=True)
    assert refunded_cents(web_app, number) == 0

    form = {"outcome": "partial", "refund_cny": "150", "reason": "复测一半指标"}
    done = post_form(admin, url, form, page=QUEUES, follow_redirects=True)
    html = done.get_data(as_text=True)
    assert f"订单 {number} 的争议已裁定：退款 ¥150.00，其余 ¥250.00 结算给实验室。" in html
    assert f'id="dispute-{number}"' not in html and "没有待裁定的订单争议" in html
    balances = market.ledger()["balances"]
    lab = next(v for k, v in balances.items() if k.startswith("lab:"))
    # the lab earns 250: 125 from the voucher (half at most), 125 in cash; 75 cash goes back to the payer
    assert lab == 250 and refunded_cents(web_app, number) == 7500
    order = market.get(f"/orders/{number}", market.customer).get_json()
    assert order["status"] == "settled"

    again = post_form(admin, url, form, page=QUEUES, follow_redirects=True)
    assert "不能“裁定部分退款”" in again.get_data(as_text=True)
    refund_all = post_form(admin, url, {"outcome": "refund"}, page=QUEUES, follow_redirects=True)
    assert "当前为“已结算”状态" in refund_all.get_data(as_text=True)
    assert market.ledger()["balances"] == balances and refunded_cents(web_app, number) == 7500
    market.assert_books_balance()


def test_release_and_full_refund_rulings(web_app: Flask, client_as: Callable[[str], FlaskClient]) -> None:
    market = build_market(web_app)
    released, refunded = disputed_order(market), disputed_order(market)
    admin = client_as("platform_admin")
    html = post_form(admin, f"{QUEUES}/disputes/{released}", {"outcome": "release"}, page=QUEUES,
                     follow_redirects=True).get_data(as_text=True)
    assert f"订单 {released} 的争议已裁定：全部 ¥400.00 结算给实验室。" in html
    html = post_form(admin, f"{QUEUES}/disputes/{refunded}", {"outcome": "refund", "reason": "报告无效"}, page=QUEUES,
                     follow_redirects=True).get_data(as_text=True)
    assert f"订单 {refunded} 的争议已裁定：全额退款 ¥400.00。" in html and "没有待裁定的订单争议" in html
    assert market.get(f"/orders/{refunded}", market.customer).get_json()["status"] == "refunded"
    assert refunded_cents(web_app, refunded) == 40000 and refunded_cents(web_app, released) == 0
    lab = next(v for k, v in market.ledger()["balances"].items() if k.startswith("lab:"))
    assert lab == 400
    market.assert_books_balance()
