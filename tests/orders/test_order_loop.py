"""The whole loop a user and a lab go through, and the ways it ends early."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from tests.orders.conftest import Market, next_weekday_at


def test_order_with_voucher_from_payment_to_rating(market: Market) -> None:
    voucher = market.voucher(amount=5000)
    order = market.order(voucher_id=voucher, expected_total_cny=400)
    assert (order["total_cny"], order["voucher_cny"], order["cash_cny"]) == (400, 200, 200)  # half by voucher
    number = order["number"]
    assert market.pay(number)["status"] == "paid"
    vouchers = market.get("/vouchers", market.customer).get_json()["items"]
    assert vouchers[0]["reserved_cny"] == 200 and vouchers[0]["available_cny"] == 4800

    inbox = market.get("/me/notifications", market.food_lab).get_json()["items"]
    assert inbox[0]["kind"] == "order_paid" and number in inbox[0]["body"]
    market.through_report(number)
    assert market.get("/me/notifications", market.customer).get_json()["items"][0]["kind"] == "report_ready"

    link = market.get(f"/orders/{number}/report", market.customer).get_json()
    pdf = market.client.get(link["download_url"])
    assert pdf.status_code == 200 and pdf.data.startswith(b"%PDF-") and pdf.mimetype == "application/pdf"

    settled = market.post(f"/orders/{number}/confirm", market.customer).get_json()
    assert settled["status"] == "settled"
    ledger = market.ledger()
    assert ledger["balanced"], ledger["problems"]
    lab_account = [k for k in ledger["balances"] if k.startswith("lab:")]
    assert [ledger["balances"][k] for k in lab_account] == [400]
    assert ledger["balances"]["voucher_fund"] == -200
    used = market.get("/vouchers", market.customer).get_json()["items"][0]
    assert (used["reserved_cny"], used["consumed_cny"], used["available_cny"]) == (0, 200, 4800)

    today = datetime.now(ZoneInfo("Asia/Shanghai")).date()  # the statement counts the platform's local days
    csv = market.client.get(f"/api/v1/vouchers/statement?from={today}&to={today}&format=csv", headers=market.food_lab)
    assert csv.status_code == 200 and "T-CQ-FOOD" in csv.text and "200.00" in csv.text

    rated = market.post(f"/orders/{number}/rating", market.customer, stars=5, comment="报告很快")
    assert rated.status_code == 201
    again = market.post(f"/orders/{number}/rating", market.customer, stars=1)
    assert again.status_code == 409
    reply = market.post(f"/lab/orders/{number}/rating-reply", market.food_lab, reply="感谢支持")
    assert reply.get_json()["lab_reply"] == "感谢支持"
    detail = market.client.get("/api/v1/services/T-CQ-S002").get_json()
    assert detail["rating"]["average"] == 5 and detail["rating"]["count"] == 1
    trail = [e["to_status"] for e in market.get(f"/orders/{number}", market.customer).get_json()["events"]]
    assert trail == ["created", "awaiting_payment", "paid", "accepted", "samples_received", "testing",
                     "report_issued", "confirmed", "settled"]


def test_rejection_refunds_in_full_and_gives_the_voucher_back(market: Market) -> None:
    voucher = market.voucher(amount=1000)
    number = market.paid_order(voucher_id=voucher)
    no_reason = market.post(f"/lab/orders/{number}/reject", market.food_lab, reason=" ")
    assert no_reason.status_code == 400
    rejected = market.post(f"/lab/orders/{number}/reject", market.food_lab, reason="仪器维修中")
    assert rejected.get_json()["status"] == "rejected"
    balances = market.ledger()["balances"]
    assert all(v == 0 for k, v in balances.items() if not k.startswith("payer:") and k != "voucher_fund")
    assert balances["voucher_fund"] == 0
    assert market.get("/vouchers", market.customer).get_json()["items"][0]["available_cny"] == 1000
    assert market.get("/me/notifications", market.customer).get_json()["items"][0]["kind"] == "order_rejected"
    market.assert_books_balance()


def test_cancellation_is_free_before_acceptance_and_costs_the_lab_share_after(market: Market) -> None:
    early = market.paid_order()
    assert market.post(f"/orders/{early}/cancel", market.customer, reason="不需要了").get_json()["status"] == "cancelled"
    late = market.paid_order()
    market.post(f"/lab/orders/{late}/accept", market.food_lab)
    market.post(f"/orders/{late}/cancel", market.customer, reason="改期")
    balances = market.ledger()["balances"]
    lab = next(v for k, v in balances.items() if k.startswith("lab:"))
    assert lab == 80  # 20 % of 400 CNY
    assert next(v for k, v in balances.items() if k.startswith("payer:")) == -80
    market.assert_books_balance()


def test_dispute_decided_by_an_admin_with_a_partial_refund(market: Market) -> None:
    number = market.paid_order()
    market.through_report(number)
    assert market.post(f"/orders/{number}/dispute", market.customer, reason="结果与自检不符").status_code == 200
    lab_may_not = market.post(f"/admin/orders/{number}/resolve", market.food_lab, outcome="release")
    assert lab_may_not.status_code == 403
    too_much = market.post(f"/admin/orders/{number}/resolve", market.admin, outcome="partial", refund_cny=400)
    assert too_much.status_code == 400
    done = market.post(f"/admin/orders/{number}/resolve", market.admin, outcome="partial", refund_cny=150,
                       reason="复测一半指标")
    assert done.get_json()["status"] == "settled"
    balances = market.ledger()["balances"]
    assert next(v for k, v in balances.items() if k.startswith("lab:")) == 250
    market.assert_books_balance()


def test_visit_slot_follows_duration_and_samples_and_shows_in_the_calendar(market: Market) -> None:
    start = next_weekday_at(10)
    order = market.order(service_code="T-CQ-S001", mode="visit", samples=3, slot_start=start.isoformat(),
                         delivery_date=None)
    assert datetime.fromisoformat(order["slot_end"]) - datetime.fromisoformat(order["slot_start"]) == timedelta(hours=3)
    calendar = market.client.get(f"/api/v1/lab/instruments/T-CQ-FOOD-0001/calendar?start={start.date()}&days=1",
                                 headers=market.food_lab).get_json()
    assert calendar["days"][0]["booked"][0]["order"] == order["number"]
    assert calendar["days"][0]["opening_hours"] == [["09:00", "17:00"]]
    overlapping = market.post("/orders", market.customer, service_code="T-CQ-S001", samples=1, mode="visit",
                              sample_description="x", slot_start=(start + timedelta(hours=2)).isoformat())
    assert overlapping.status_code == 409 and overlapping.get_json()["error"]["code"] == "slot_taken"
    cancelled = market.post(f"/orders/{order['number']}/cancel", market.customer, reason="")
    assert cancelled.status_code == 200
    again = market.post("/orders", market.customer, service_code="T-CQ-S001", samples=1, mode="visit",
                        sample_description="x", slot_start=(start + timedelta(hours=2)).isoformat())
    assert again.status_code == 201  # the cancelled order's slot is on sale again


def test_opening_hours_and_blackouts_set_by_the_lab_bound_bookings(market: Market) -> None:
    start = next_weekday_at(10)
    hours = {str(start.weekday()): [["13:00", "18:00"]]}
    assert market.client.put("/api/v1/lab/instruments/T-CQ-FOOD-0001/opening-hours", headers=market.food_lab,
                             json={"hours": hours}).status_code == 200
    morning = market.post("/orders", market.customer, service_code="T-CQ-S001", samples=1, mode="visit",
                          sample_description="x", slot_start=start.isoformat())
    assert morning.status_code == 400 and morning.get_json()["error"]["code"] == "slot_outside_opening_hours"
    afternoon = start.replace(hour=14)
    market.post("/lab/instruments/T-CQ-FOOD-0001/blackouts", market.food_lab, starts_at=afternoon.isoformat(),
                ends_at=(afternoon + timedelta(hours=2)).isoformat(), reason="年度校准")
    blocked = market.post("/orders", market.customer, service_code="T-CQ-S001", samples=1, mode="visit",
                          sample_description="x", slot_start=afternoon.isoformat())
    assert blocked.status_code == 400 and "年度校准" in blocked.get_json()["error"]["message"]
    other_lab = market.client.put("/api/v1/lab/instruments/T-CQ-FOOD-0001/opening-hours", headers=market.material_lab,
                                  json={"hours": hours})
    assert other_lab.status_code == 404


def test_staff_of_one_lab_never_see_another_labs_orders(market: Market) -> None:
    number = market.paid_order()
    assert market.get(f"/orders/{number}", market.material_lab).status_code == 404
    assert market.post(f"/lab/orders/{number}/accept", market.material_lab).status_code == 404
    assert market.get("/orders", market.material_lab).get_json()["items"] == []
    assert [o["number"] for o in market.get("/orders", market.food_lab).get_json()["items"]] == [number]
    stranger = market.sign_in(name="李四")
    assert market.get(f"/orders/{number}", stranger).status_code == 404
    assert market.get(f"/orders/{number}", market.admin).status_code == 200


def test_report_download_is_limited_to_the_people_of_the_order(market: Market) -> None:
    number = market.paid_order()
    market.through_report(number)
    stranger = market.sign_in(name="李四")
    assert market.get(f"/orders/{number}/report", stranger).status_code == 404
    assert market.get(f"/orders/{number}/report", market.material_lab).status_code == 404
    link = market.get(f"/orders/{number}/report", market.food_lab).get_json()["download_url"]
    assert market.client.get(link + "x").status_code == 403


def test_a_no_show_after_the_slot_costs_the_lab_share(market: Market) -> None:
    from sqlalchemy import update

    from core.models import Order

    start = next_weekday_at(9)
    number = market.paid_order(service_code="T-CQ-S001", mode="visit", samples=1, slot_start=start.isoformat(),
                               delivery_date=None)
    early = market.post(f"/lab/orders/{number}/no-show", market.food_lab)
    assert early.status_code == 422 and early.get_json()["error"]["code"] == "slot_not_over"
    market.post(f"/lab/orders/{number}/accept", market.food_lab)
    # time passes: the booked hour is now yesterday
    with market.app.extensions["platform"].transaction() as session:
        past = datetime.now(timezone.utc) - timedelta(days=1)
        session.execute(update(Order).where(Order.number == number).values(slot_start=past, slot_end=past + timedelta(hours=1)))
    assert market.post(f"/lab/orders/{number}/no-show", market.food_lab).get_json()["status"] == "no_show"
    balances = market.ledger()["balances"]
    assert next(v for k, v in balances.items() if k.startswith("lab:")) == 60  # 20 % of 300 CNY
    assert market.get("/me/notifications", market.customer).get_json()["items"][0]["kind"] == "order_no_show"
    market.assert_books_balance()
