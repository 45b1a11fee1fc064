"""Sizes and shapes refused before they cost anything: a huge JSON body, JSON nested thousands
deep, an oversized upload (413, as the spec says), and the headers every answer carries."""
from __future__ import annotations

import pytest

from tests.orders.conftest import Market, market, market_factory, pdf_file  # noqa: F401


@pytest.mark.parametrize("path", ["/api/v1/orders", "/api/v1/auth/demo-login", "/api/v1/vouchers",
                                  "/demo/chat/messages"])
def test_a_json_body_nested_thousands_deep_is_a_400(market: Market, path: str) -> None:
    body = "[" * 5000 + "]" * 5000
    r = market.client.post(path, data=body, headers={**market.customer, "Content-Type": "application/json"})
    assert r.status_code == 400 and r.get_json()["error"]["code"] == "invalid_body"


@pytest.mark.parametrize("path", ["/api/v1/orders", "/api/v1/auth/demo-login", "/api/v1/search"])
def test_a_json_body_of_megabytes_is_refused_unread(market: Market, path: str) -> None:
    body = '{"text": "' + "a" * (3 * 1024 * 1024) + '"}'
    r = market.client.post(path, data=body, headers={**market.customer, "Content-Type": "application/json"})
    assert r.status_code == 413 and r.get_json()["error"]["code"] == "payload_too_large"


def test_an_upload_past_every_limit_is_a_413(market_factory) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    market = market_factory(REPORT_MAX_MB="0.01")
    number = market.paid_order()
    for step in ("accept", "samples-received", "start-testing"):
        market.post(f"/lab/orders/{number}/{step}", market.food_lab)
    r = market.client.post(f"/api/v1/lab/orders/{number}/report", headers=market.food_lab,
                           data={"file": (pdf_file(5 * 1024 * 1024), "report.pdf")}, content_type="multipart/form-data")
    assert r.status_code == 413 and r.is_json


def test_every_answer_tells_the_browser_not_to_sniff_frame_or_refer(market: Market) -> None:
    for r in (market.client.get("/api/v1/me", headers=market.customer), market.client.get("/demo/chat"),
              market.client.get("/api/v1/nowhere")):
        assert r.headers["X-Content-Type-Options"] == "nosniff"
        assert r.headers["X-Frame-Options"] == "DENY"
        assert "frame-ancestors 'none'" in r.headers["Content-Security-Policy"]
        assert r.headers["Referrer-Policy"] == "same-origin"
