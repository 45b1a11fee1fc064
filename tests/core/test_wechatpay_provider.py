"""WeChat Pay against a local stand-in of its v2 API (tests/fake_wechatpay.py)."""
from __future__ import annotations

import socket
from pathlib import Path

import pytest
from wechatpy.pay.utils import calculate_signature

from core.config import load_settings
from core.errors import BusinessRuleViolation, DependencyUnavailable
from core.payment_providers import get_provider
from core.payment_providers.base import (
    PAYMENT_PAID, PAYMENT_PENDING, REFUND_PROCESSING, REFUND_SUCCEEDED, InvalidNotification, PaymentProvider,
    PayRequest, RefundRequest,
)
from tests.fake_wechatpay import (
    API_KEY,
    APP_ID,
    MCH_ID,
    FakeWeChatPay,
    badly_signed_payment_notification,
    signed_payment_notification,
)

PUBLIC = "https://lab-share.example.cn"


def _provider(tmp_path: Path, api_base: str, **env: str) -> PaymentProvider:
    environ = {"DATA_DIR": str(tmp_path), "PAYMENT_PROVIDER": "wechatpay", "PUBLIC_BASE_URL": PUBLIC,
               "WECHATPAY_API_BASE_URL": api_base, "WECHATPAY_MCH_ID": MCH_ID, "WECHATPAY_API_KEY": API_KEY,
               "WECHAT_MINI_APP_ID": APP_ID, **env}
    environ = {k: v for k, v in environ.items() if v}
    return get_provider(load_settings(environ))


def _pay(out_trade_no: str = "ORD-1001", amount_cents: int = 30000, openid: str | None = "o-alice") -> PayRequest:
    return PayRequest(out_trade_no=out_trade_no, amount_cents=amount_cents, description="食品中苏丹红I-IV号的测定",
                      openid=openid, client_ip="203.0.113.7")


@pytest.fixture
def provider(tmp_path: Path, fake_wechatpay: str) -> PaymentProvider:
    return _provider(tmp_path, fake_wechatpay)


def test_start_answers_signed_jsapi_params_for_the_unified_order(provider: PaymentProvider) -> None:
    answer = provider.start(_pay())

    [(path, sent)] = FakeWeChatPay.calls
    assert path == "/pay/unifiedorder"
    assert sent["total_fee"] == "30000" and sent["openid"] == "o-alice"
    assert sent["notify_url"] == f"{PUBLIC}/api/v1/payments/wechatpay/notify"
    assert (sent["trade_type"], sent["out_trade_no"], sent["appid"], sent["mch_id"]) == \
        ("JSAPI", "ORD-1001", APP_ID, MCH_ID)
    assert sent["spbill_create_ip"] == "203.0.113.7"

    assert (answer["provider"], answer["out_trade_no"]) == ("wechatpay", "ORD-1001")
    params = dict(answer["jsapi"])
    pay_sign = params.pop("paySign")
    assert params["package"] == f"prepay_id={FakeWeChatPay.orders['ORD-1001']['prepay_id']}"
    assert params["appId"] == APP_ID and params["signType"] == "MD5"
    # what wx.requestPayment sends WeChat must verify with the merchant key
    assert pay_sign == calculate_signature(params, API_KEY)


def test_start_without_openid_is_refused_before_calling_wechat(provider: PaymentProvider) -> None:
    with pytest.raises(BusinessRuleViolation) as err:
        provider.start(_pay(openid=None))
    assert err.value.code == "wechat_openid_required"
    assert FakeWeChatPay.calls == []


def test_wechat_refusing_the_order_is_a_503(tmp_path: Path, fake_wechatpay: str) -> None:
    # a wrong API key: WeChat answers FAIL (签名错误)
    provider = _provider(tmp_path, fake_wechatpay, WECHATPAY_API_KEY="not-the-merchant-key")
    with pytest.raises(DependencyUnavailable) as err:
        provider.start(_pay())
    assert err.value.status == 503 and "签名错误" in err.value.message


def test_a_genuine_notification_parses(provider: PaymentProvider) -> None:
    body = signed_payment_notification(API_KEY, "ORD-1001", 30000, "4200000001", APP_ID, MCH_ID)
    notice = provider.parse_notification(body)
    assert (notice.out_trade_no, notice.transaction_id, notice.amount_cents) == ("ORD-1001", "4200000001", 30000)


@pytest.mark.parametrize("body, code", [
    (signed_payment_notification(API_KEY, "ORD-1001", 30000, "4200000001", after_signing={"total_fee": "1"}),
     "bad_signature"),
    (badly_signed_payment_notification("ORD-1001", 30000, "4200000001"), "bad_signature"),
    (b"this is not xml", "bad_signature"),
    (b"<xml/>", "invalid_notification"),
    (b"<xml>text</xml>", "invalid_notification"),
    (signed_payment_notification(API_KEY, "ORD-1001", 30000, "4200000001", result_code="FAIL"),
     "payment_not_successful"),
    (signed_payment_notification(API_KEY, "ORD-1001", 30000, "4200000001", mch_id="1900000999"), "wrong_merchant"),
], ids=["tampered-amount", "bad-signature", "garbage", "empty-xml", "text-xml", "not-success", "other-merchant"])
def test_anything_not_genuine_is_an_invalid_notification(provider: PaymentProvider, body: bytes, code: str) -> None:
    with pytest.raises(InvalidNotification) as err:
        provider.parse_notification(body)
    assert err.value.code == code and err.value.status == 400


def test_acknowledgement_is_the_xml_wechat_expects(provider: PaymentProvider) -> None:
    assert provider.acknowledgement(True) == (
        b"<xml><return_code><![CDATA[SUCCESS]]></return_code><return_msg><![CDATA[OK]]></return_msg></xml>",
        "application/xml", 200)
    body, content_type, _ = provider.acknowledgement(False, "unknown order")
    assert body == (b"<xml><return_code><![CDATA[FAIL]]></return_code>"
                    b"<return_msg><![CDATA[unknown order]]></return_msg></xml>")
    assert content_type == "application/xml"


def test_the_same_refund_no_twice_refunds_once_and_a_query_confirms_it(provider: PaymentProvider) -> None:
    provider.start(_pay())
    first = provider.refund(RefundRequest("ORD-1001", "RF-1001-1", 30000, 12000))
    provider.refund(RefundRequest("ORD-1001", "RF-1001-1", 30000, 12000))  # a retried job

    refund_calls = [sent for path, sent in FakeWeChatPay.calls if path == "/secapi/pay/refund"]
    assert len(refund_calls) == 2
    assert refund_calls[0]["out_refund_no"] == "RF-1001-1" and refund_calls[0]["refund_fee"] == "12000"
    assert list(FakeWeChatPay.refunds) == ["RF-1001-1"]
    assert FakeWeChatPay.refunded_cents("ORD-1001") == 12000
    # accepted is not done: the refund is tracked until a query says it arrived
    assert first.status == REFUND_PROCESSING
    assert provider.query_refund("RF-1001-1").status == REFUND_SUCCEEDED


def test_refunds_beyond_the_payment_or_a_reused_number_are_refused_for_good(provider: PaymentProvider) -> None:
    provider.start(_pay(amount_cents=30000))
    provider.refund(RefundRequest("ORD-1001", "RF-1", 30000, 20000))
    with pytest.raises(BusinessRuleViolation) as reused:
        provider.refund(RefundRequest("ORD-1001", "RF-1", 30000, 25000))
    assert reused.value.details["err_code"] == "INVALID_REQUEST"
    with pytest.raises(DependencyUnavailable):  # NOTENOUGH may clear later (merchant balance): retried
        provider.refund(RefundRequest("ORD-1001", "RF-2", 30000, 20000))
    assert FakeWeChatPay.refunded_cents("ORD-1001") == 20000


def test_a_payment_query_says_whether_the_user_paid(provider: PaymentProvider) -> None:
    provider.start(_pay())
    assert provider.query_payment("ORD-1001").status == PAYMENT_PENDING
    FakeWeChatPay.paid["ORD-1001"] = "4200001"
    state = provider.query_payment("ORD-1001")
    assert (state.status, state.transaction_id, state.amount_cents) == (PAYMENT_PAID, "4200001", 30000)


def test_a_refund_wechat_refuses_is_a_business_error(provider: PaymentProvider) -> None:
    with pytest.raises(BusinessRuleViolation) as err:
        provider.refund(RefundRequest("ORD-UNKNOWN", "RF-X", 30000, 30000))
    assert "订单不存在" in err.value.message and err.value.details["err_code"] == "ORDERNOTEXIST"


@pytest.mark.parametrize("env, named", [
    ({"WECHATPAY_MCH_ID": "", "WECHATPAY_API_KEY": ""}, ["WECHATPAY_MCH_ID", "WECHATPAY_API_KEY"]),
    ({"WECHAT_MINI_APP_ID": ""}, ["WECHATPAY_APP_ID"]),
])
def test_missing_settings_name_the_variables(tmp_path: Path, env: dict[str, str], named: list[str]) -> None:
    with pytest.raises(DependencyUnavailable) as err:
        _provider(tmp_path, "http://127.0.0.1:9/", **env)
    assert err.value.status == 503
    for variable in named:
        assert variable in err.value.message


def test_the_payment_app_id_wins_over_the_mini_program(tmp_path: Path, fake_wechatpay: str) -> None:
    provider = _provider(tmp_path, fake_wechatpay, WECHATPAY_APP_ID="wx-pay-app")
    assert provider.start(_pay())["jsapi"]["appId"] == "wx-pay-app"
    assert FakeWeChatPay.calls[0][1]["appid"] == "wx-pay-app"


def test_wechat_unreachable_is_a_503(tmp_path: Path) -> None:
    with socket.socket() as sock:  # a port nobody listens on once closed
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    provider = _provider(tmp_path, f"http://127.0.0.1:{port}/")
    with pytest.raises(DependencyUnavailable) as err:
        provider.start(_pay())
    assert "无法连接微信支付" in err.value.message
    with pytest.raises(DependencyUnavailable):
        provider.refund(RefundRequest("ORD-1001", "RF-1", 30000, 100))
