"""Every write refuses bad input with the error shape and the right status, and changes nothing."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from tests.orders.conftest import OTHER_CREDIT_CODE, Market, next_weekday_at, pdf_file


def _refused(response, status: int, code: str | None = None) -> None:  # type: ignore[no-untyped-def]
    body = response.get_json()
    assert response.status_code == status, body
    assert set(body["error"]) == {"code", "message", "details"} and body["error"]["message"]
    if code:
        assert body["error"]["code"] == code


@pytest.mark.parametrize("samples", [0, -1])
def test_no_order_for_zero_or_negative_samples(market: Market, samples: int) -> None:
    _refused(market.post("/orders", market.customer, service_code="T-CQ-S002", samples=samples,
                         sample_description="x", mode="mail",
                         delivery_date=(datetime.now(timezone.utc) + timedelta(days=1)).date().isoformat()),
             400, "invalid_body")
    assert market.get("/orders", market.customer).get_json()["items"] == []


def test_slots_in_the_past_unaligned_or_after_hours_are_refused(market: Market) -> None:
    past = (datetime.now(timezone.utc) - timedelta(days=1)).replace(minute=0, second=0, microsecond=0)
    for when, code in [(past, "slot_in_past"), (next_weekday_at(10) + timedelta(minutes=7), "slot_not_aligned"),
                       (next_weekday_at(20), "slot_outside_opening_hours")]:
        _refused(market.post("/orders", market.customer, service_code="T-CQ-S001", samples=1, mode="visit",
                             sample_description="x", slot_start=when.isoformat()), 400, code)
    assert market.get("/orders", market.customer).get_json()["items"] == []


def test_the_client_cannot_set_the_price(market: Market) -> None:
    _refused(market.post("/orders", market.customer, service_code="T-CQ-S002", samples=2, sample_description="x",
                         expected_total_cny=1, mode="mail",
                         delivery_date=(datetime.now(timezone.utc) + timedelta(days=1)).date().isoformat()),
             409, "price_mismatch")
    _refused(market.post("/orders", market.customer, service_code="T-CQ-S002", samples=2, sample_description="x",
                         total_cny=1), 400, "invalid_body")


def test_a_voucher_of_another_company_cannot_be_used(market: Market) -> None:
    theirs = market.voucher(market.sign_in(name="别家", company=OTHER_CREDIT_CODE))
    _refused(market.post("/orders", market.customer, service_code="T-CQ-S002", samples=1, sample_description="x",
                         voucher_id=theirs, mode="mail",
                         delivery_date=(datetime.now(timezone.utc) + timedelta(days=1)).date().isoformat()),
             404, "voucher_not_found")


def test_voucher_rules_cap_applications_and_need_a_registered_company(market: Market) -> None:
    market.verify_company()
    _refused(market.post("/vouchers", market.customer, requested_cny=20_000.01, purpose="x"), 422,
             "voucher_application_limit")
    no_company = market.sign_in(name="个人", company=None)
    _refused(market.post("/vouchers", no_company, requested_cny=100, purpose="x"), 422, "company_required")
    for _ in range(5):
        market.voucher(amount=20_000)
    application = market.post("/vouchers", market.customer, requested_cny=1, purpose="x").get_json()["id"]
    _refused(market.post(f"/admin/vouchers/{application}/decision", market.admin, approve=True), 422,
             "voucher_yearly_limit")
    _refused(market.post(f"/admin/vouchers/{application}/decision", market.customer, approve=True), 403)
    _refused(market.post(f"/admin/vouchers/{application}/decision", market.admin, approve=False), 400,
             "reason_required")


def test_reports_must_be_small_pdfs_and_come_in_the_right_state(market_factory) -> None:  # type: ignore[no-untyped-def]
    market = market_factory(REPORT_MAX_MB="0.01")
    number = market.paid_order()
    upload = lambda data, name="r.pdf": market.client.post(  # noqa: E731
        f"/api/v1/lab/orders/{number}/report", headers=market.food_lab, data={"file": (data, name)},
        content_type="multipart/form-data")
    _refused(upload(pdf_file(100)), 409, "wrong_state")  # not tested yet
    for step in ("accept", "samples-received", "start-testing"):
        market.post(f"/lab/orders/{number}/{step}", market.food_lab)
    from io import BytesIO

    _refused(upload(BytesIO(b"GIF89a not a report"), "r.gif"), 400, "not_a_pdf")
    _refused(upload(pdf_file(20_000)), 413, "file_too_large")
    assert market.get(f"/orders/{number}", market.customer).get_json()["status"] == "testing"
    assert upload(pdf_file(100)).status_code == 201


def test_actions_in_the_wrong_state_or_by_the_wrong_role_change_nothing(market: Market) -> None:
    number = market.order()["number"]
    _refused(market.post(f"/lab/orders/{number}/accept", market.food_lab), 409, "wrong_state")
    _refused(market.post(f"/orders/{number}/confirm", market.customer), 409, "wrong_state")
    market.pay(number)
    _refused(market.post(f"/lab/orders/{number}/accept", market.customer), 403)
    _refused(market.post(f"/orders/{number}/confirm", market.food_lab), 403)
    _refused(market.post(f"/orders/{number}/rating", market.customer, stars=5), 422, "not_settled")
    _refused(market.post(f"/lab/orders/{number}/no-show", market.food_lab), 422, "slot_not_over")  # mailed samples
    assert market.get(f"/orders/{number}", market.customer).get_json()["status"] == "paid"
    _refused(market.post("/orders", {}, service_code="T-CQ-S002", samples=1, sample_description="x"), 401)
    market.assert_books_balance()
