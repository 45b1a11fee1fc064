"""Every error message a person can trigger through the API is Chinese (DESIGN.md, "What a person reads"):
codes and field names stay English, the sentence people read does not."""
from __future__ import annotations

import re
from typing import Any, Callable

from tests.orders.conftest import Market, market_factory  # noqa: F401

CJK = re.compile(r"[\u4e00-\u9fff]")


class Errors:
    """The error responses seen so far, by code; each one checked for status, code and shape."""

    def __init__(self) -> None:
        self.messages: dict[str, str] = {}

    def expect(self, response: Any, status: int, code: str) -> str:
        body = response.get_json()
        assert response.status_code == status, body
        assert body is not None and set(body["error"]) == {"code", "message", "details"}, body
        assert body["error"]["code"] == code, body
        message = body["error"]["message"]
        assert CJK.search(message), f"{code}: {message!r} is not Chinese"
        self.messages[code] = message
        return message


def test_error_messages_people_can_trigger_are_chinese(market_factory: Callable[..., Market]) -> None:  # noqa: F811
    m = market_factory(RATE_LIMIT_SEARCH_PER_IP="2")
    c, seen = m.client, Errors()
    paid = m.paid_order()

    # 404: an order nobody has, an unknown route, a report not yet uploaded, a lab action that does not exist
    assert "O-NOPE" in seen.expect(m.get("/orders/O-NOPE", m.customer), 404, "order_not_found")
    seen.expect(c.get("/api/v1/no-such-endpoint"), 404, "not_found")
    seen.expect(m.get(f"/orders/{paid}/report", m.customer), 404, "report_not_found")
    seen.expect(m.post(f"/lab/orders/{paid}/polish", m.food_lab), 404, "unknown_action")
    seen.expect(m.post("/payments/sandbox/NO-SUCH-TRADE/complete", m.customer), 404, "payment_not_found")
    seen.expect(m.post("/payments/alipay/notify", {}), 404, "provider_not_found")
    seen.expect(m.post("/orders", m.customer, service_code="NO-SUCH-SERVICE", samples=1, sample_description="x",
                       mode="mail", delivery_date="2099-01-01"), 404, "service_not_found")

    # 405: a method the route does not take
    seen.expect(c.delete("/api/v1/orders", headers=m.customer), 405, "method_not_allowed")

    # 409: the wrong state names the order; a price the client made up
    wrong_state = seen.expect(m.post(f"/orders/{paid}/confirm", m.customer), 409, "wrong_state")
    assert paid in wrong_state and "已付款" in wrong_state
    seen.expect(m.post("/orders", m.customer, service_code="T-CQ-S002", samples=2, sample_description="x",
                       expected_total_cny=1, mode="mail", delivery_date="2099-01-01"), 409, "price_mismatch")

    # 403: a role the move does not allow, a role the endpoint does not serve, a forged download link
    assert "实验室人员" in seen.expect(m.post(f"/orders/{paid}/confirm", m.food_lab), 403, "role_not_allowed")
    seen.expect(m.post(f"/lab/orders/{paid}/accept", m.customer), 403, "forbidden")
    seen.expect(c.get("/api/v1/reports/download", query_string={"token": "forged"}), 403, "link_invalid")

    # 401: no token, a token that is not ours
    seen.expect(c.get("/api/v1/orders"), 401, "unauthorized")
    seen.expect(c.get("/api/v1/orders", headers={"Authorization": "Bearer forged"}), 401, "invalid_token")

    # 400: a bad body, a report upload without the file, bad text for the demo bot
    seen.expect(m.post("/orders", m.customer, service_code="T-CQ-S002", samples=0, sample_description="x",
                       mode="mail", delivery_date="2099-01-01"), 400, "invalid_body")
    seen.expect(c.post(f"/api/v1/lab/orders/{paid}/report", headers=m.food_lab, data={},
                       content_type="multipart/form-data"), 400, "file_required")
    seen.expect(c.post("/demo/chat/messages", json={}), 400, "invalid_message")

    # 422: a business rule; the message still names the endpoint that fixes it
    seen.expect(m.post(f"/orders/{paid}/rating", m.customer, stars=5), 422, "not_settled")
    no_company = m.sign_in(name="个人", company=None)
    fix = seen.expect(m.post("/orders", no_company, service_code="T-CQ-S002", samples=1, sample_description="x",
                             mode="mail", delivery_date="2099-01-01"), 422, "company_required")
    assert "PUT /api/v1/me/company" in fix

    # 400, 503 and 429 from search: empty text, no index built yet, then over the per-IP limit
    seen.expect(c.get("/api/v1/search", query_string={"q": ""}), 400, "invalid_query")
    assert "flask search reindex" in seen.expect(c.get("/api/v1/search", query_string={"q": "辣椒粉"}),
                                                 503, "search_index_missing")
    seen.expect(c.get("/api/v1/search", query_string={"q": "辣椒粉"}), 429, "rate_limited")

    # 503: the WeChat official account is not configured; the message points at the demo bot
    assert "/demo/chat" in seen.expect(c.get("/wechat"), 503, "wechat_not_configured")

    # 500: whatever breaks inside, the person reads a Chinese sentence, never a stack trace
    def broken():  # type: ignore[no-untyped-def]
        raise RuntimeError("boom")

    m.app.view_functions["orders.list_orders"] = broken
    assert "boom" not in seen.expect(c.get("/api/v1/orders", headers=m.customer), 500, "internal_error")

    assert len(seen.messages) >= 12, sorted(seen.messages)
