"""WeChat Pay API v3 against a local stand-in (tests/fake_wechatpay_v3.py), with keys made here."""
from __future__ import annotations

import dataclasses

import json
import socket
import threading
import time
from base64 import b64decode
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from core.config import load_settings
from core.errors import BusinessRuleViolation, DependencyUnavailable
from core.payment_providers import get_provider
from core.payment_providers.base import (
    InvalidNotification, PaymentNotice, PayRequest, RefundNotice, RefundRequest, ShareRequest,
)
from core.payment_providers.wechatpay_v3 import WeChatPayV3Provider
from tests.conftest import serving
from tests.fake_wechatpay_v3 import (
    APIV3_KEY, APP_ID, LAB_MCH_ID, LAB_NAME, MCH_ID, MCH_SERIAL, PUBLIC_KEY_ID, FakeWeChatPayV3, Keys,
    certificate_pem, make_keys, notification, payment_notification, refund_notification, signed_headers,
)

PUBLIC = "https://lab-share.example.cn"
Fake = FakeWeChatPayV3


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> Keys:
    return make_keys(tmp_path_factory.mktemp("wechatpay_v3_keys"))


@pytest.fixture(scope="module")
def other_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def fake_server() -> Iterator[str]:
    # one server for the module (each stop waits out its poll interval); each test resets its state
    server = ThreadingHTTPServer(("127.0.0.1", 0), Fake)
    server.daemon_threads = True
    with serving(server):
        yield f"http://127.0.0.1:{server.server_port}/"


@pytest.fixture
def fake(keys: Keys, fake_server: str) -> Iterator[str]:
    Fake.reset(keys)
    yield fake_server
    if Fake.hang is not None:
        Fake.hang.set()  # let a hung handler finish


def _env(tmp_path: Path, keys: Keys, api_base: str, **env: str) -> dict[str, str]:
    environ = {"DATA_DIR": str(tmp_path), "PAYMENT_PROVIDER": "wechatpay_v3", "PUBLIC_BASE_URL": PUBLIC,
               "WECHATPAY_API_BASE_URL": api_base, "WECHATPAY_MCH_ID": MCH_ID, "WECHATPAY_APIV3_KEY": APIV3_KEY,
               "WECHATPAY_CERT_SERIAL_NO": MCH_SERIAL, "WECHATPAY_MCH_KEY": str(keys.merchant_key_file),
               "WECHATPAY_PUBLIC_KEY": str(keys.platform_public_file), "WECHATPAY_PUBLIC_KEY_ID": PUBLIC_KEY_ID,
               "WECHAT_MINI_APP_ID": APP_ID, **env}
    return {k: v for k, v in environ.items() if v}


def _provider(tmp_path: Path, keys: Keys, api_base: str, **env: str) -> Any:
    return get_provider(load_settings(_env(tmp_path, keys, api_base, **env)))


@pytest.fixture
def provider(tmp_path: Path, keys: Keys, fake: str) -> Any:
    return _provider(tmp_path, keys, fake)


def _pay(no: str = "ORD-1001", cents: int = 30000, openid: str | None = "o-alice", sharing: bool = False) -> PayRequest:
    return PayRequest(out_trade_no=no, amount_cents=cents, description="食品中苏丹红I-IV号的测定", openid=openid,
                      client_ip="203.0.113.7", profit_sharing=sharing)


def _paid(provider: Any, no: str = "ORD-1001", cents: int = 30000, sharing: bool = False) -> str:
    provider.start(_pay(no, cents, sharing=sharing))
    return Fake.pay(no)


def _refund(no: str, cents: int, out_trade_no: str = "ORD-1001", total: int = 30000) -> RefundRequest:
    return RefundRequest(out_trade_no=out_trade_no, out_refund_no=no, total_cents=total, refund_cents=cents)


def test_start_opens_a_jsapi_transaction_and_answers_params_signed_with_the_merchant_key(
        provider: Any, keys: Keys) -> None:
    answer = provider.start(_pay(sharing=True))

    [(method, path, sent)] = Fake.calls
    assert (method, path) == ("POST", "/v3/pay/transactions/jsapi")
    assert (sent["appid"], sent["mchid"], sent["out_trade_no"]) == (APP_ID, MCH_ID, "ORD-1001")
    assert sent["amount"] == {"total": 30000, "currency": "CNY"} and sent["payer"] == {"openid": "o-alice"}
    assert sent["notify_url"] == f"{PUBLIC}/api/v1/payments/wechatpay_v3/notify"
    assert sent["settle_info"] == {"profit_sharing": True}  # frozen until the split
    assert (answer["provider"], answer["out_trade_no"]) == ("wechatpay_v3", "ORD-1001")
    params = answer["jsapi"]
    assert params["package"] == f"prepay_id={Fake.orders['ORD-1001']['prepay_id']}"
    assert (params["appId"], params["signType"]) == (APP_ID, "RSA")
    # what wx.requestPayment hands WeChat must verify with the merchant's key
    message = "".join(params[k] + "\n" for k in ("appId", "timeStamp", "nonceStr", "package")).encode()
    keys.merchant.public_key().verify(b64decode(params["paySign"]), message, padding.PKCS1v15(), hashes.SHA256())

    provider.start(_pay("ORD-1002"))
    assert "settle_info" not in Fake.calls[-1][2]


def test_start_without_openid_is_refused_before_calling_wechat(provider: Any) -> None:
    with pytest.raises(BusinessRuleViolation) as err:
        provider.start(_pay(openid=None))
    assert err.value.code == "wechat_openid_required" and Fake.calls == []


def test_a_genuine_payment_notification_parses(provider: Any, keys: Keys) -> None:
    transaction_id = _paid(provider)
    body, headers = payment_notification(keys, "ORD-1001")
    assert provider.parse_notification(body, headers) == PaymentNotice("ORD-1001", transaction_id, 30000)
    # header names arrive in any case (WSGI, proxies)
    assert provider.parse_notification(body, {k.lower(): v for k, v in headers.items()}).amount_cents == 30000


@pytest.mark.parametrize("status, expected", [("SUCCESS", "succeeded"), ("ABNORMAL", "failed"), ("CLOSED", "failed")])
def test_refund_notifications_parse(provider: Any, keys: Keys, status: str, expected: str) -> None:
    _paid(provider)
    provider.refund(_refund("RF-1", 12000))
    notice = provider.parse_notification(*refund_notification(keys, "RF-1", status))
    assert isinstance(notice, RefundNotice) and notice.out_trade_no == "ORD-1001"
    assert (notice.state.out_refund_no, notice.state.status, notice.state.amount_cents) == ("RF-1", expected, 12000)
    assert notice.state.refund_id == Fake.refunds["RF-1"]["refund_id"]
    assert (notice.state.message != "") == (status != "SUCCESS")


def _forgeries(keys: Keys, other: rsa.RSAPrivateKey) -> dict[str, Callable[[], tuple[bytes, dict[str, str]]]]:
    def signed(body: bytes) -> tuple[bytes, dict[str, str]]:
        return body, signed_headers(body, keys.platform, PUBLIC_KEY_ID)

    def tampered() -> tuple[bytes, dict[str, str]]:
        body, headers = payment_notification(keys, "ORD-1001")
        return body.replace("支付成功".encode(), "支付失败".encode()), headers

    def without(name: str) -> Callable[[], tuple[bytes, dict[str, str]]]:
        def build() -> tuple[bytes, dict[str, str]]:
            body, headers = payment_notification(keys, "ORD-1001")
            return body, {k: v for k, v in headers.items() if k != name}
        return build

    now = int(time.time())
    envelope = json.loads(payment_notification(keys, "ORD-1001")[0])
    return {
        "tampered-body": tampered,
        "other-signing-key": lambda: payment_notification(keys, "ORD-1001", signing_key=other),
        "unknown-serial": lambda: payment_notification(keys, "ORD-1001", serial="PUB_KEY_ID_OTHER"),
        "stale": lambda: payment_notification(keys, "ORD-1001", timestamp=now - 301),
        "from-the-future": lambda: payment_notification(keys, "ORD-1001", timestamp=now + 301),
        "wrong-apiv3-key": lambda: payment_notification(keys, "ORD-1001", apiv3_key="x" * 32),
        "no-signature": without("Wechatpay-Signature"),
        "no-timestamp": without("Wechatpay-Timestamp"),
        "no-headers": lambda: (payment_notification(keys, "ORD-1001")[0], {}),
        "signed-not-utf8": lambda: signed(b"\xff\xfe not json"),
        "signed-garbage": lambda: signed(b"not json at all"),
        "signed-json-list": lambda: signed(b"[1, 2]"),
        "signed-not-base64": lambda: signed(json.dumps(
            {**envelope, "resource": {**envelope["resource"], "ciphertext": "%%%"}}).encode()),
        "signed-bad-nonce": lambda: signed(json.dumps(
            {**envelope, "resource": {**envelope["resource"], "nonce": "x"}}).encode()),
        "other-merchant": lambda: payment_notification(keys, "ORD-1001", {"mchid": "1900000999"}),
        "other-app": lambda: payment_notification(keys, "ORD-1001", {"appid": "wx-other"}),
        "not-paid": lambda: payment_notification(keys, "ORD-1001", {"trade_state": "NOTPAY"}),
        "no-amount": lambda: payment_notification(keys, "ORD-1001", {"amount": {"total": "30000"}}),
        "other-event": lambda: notification(keys, "TRANSACTION.CLOSED", {"mchid": MCH_ID}),
    }


@pytest.mark.parametrize("forgery, code", [
    ("tampered-body", "bad_signature"), ("other-signing-key", "bad_signature"), ("unknown-serial", "bad_signature"),
    ("stale", "stale_notification"), ("from-the-future", "stale_notification"),
    ("wrong-apiv3-key", "undecryptable"), ("no-signature", "bad_signature"), ("no-timestamp", "bad_signature"),
    ("no-headers", "bad_signature"), ("signed-not-utf8", "bad_signature"),
    ("signed-garbage", "invalid_notification"), ("signed-json-list", "invalid_notification"),
    ("signed-not-base64", "undecryptable"), ("signed-bad-nonce", "undecryptable"),
    ("other-merchant", "wrong_merchant"), ("other-app", "wrong_merchant"), ("not-paid", "payment_not_successful"),
    ("no-amount", "invalid_notification"), ("other-event", "unsupported_event")])
def test_anything_not_genuine_is_an_invalid_notification(provider: Any, keys: Keys, other_key: rsa.RSAPrivateKey,
                                                          forgery: str, code: str) -> None:
    _paid(provider)
    body, headers = _forgeries(keys, other_key)[forgery]()
    with pytest.raises(InvalidNotification) as err:
        provider.parse_notification(body, headers)
    assert (err.value.code, err.value.status) == (code, 400) and err.value.message
    assert len(Fake.calls) == 1  # checking a notification never calls WeChat in the public-key mode


def test_acknowledgement_is_what_v3_expects(provider: Any) -> None:
    assert provider.acknowledgement(True) == (b"", "application/json", 204)
    body, content_type, status = provider.acknowledgement(False, "订单不存在")
    assert json.loads(body) == {"code": "FAIL", "message": "订单不存在"}
    assert content_type.startswith("application/json") and status >= 400


def test_the_same_refund_twice_refunds_once(provider: Any) -> None:
    _paid(provider)
    first = provider.refund(_refund("RF-1", 12000))
    again = provider.refund(_refund("RF-1", 12000))  # a retried job

    assert (first.status, first.amount_cents) == ("processing", 12000) and again == first
    sent = [body for method, path, body in Fake.calls if path == "/v3/refund/domestic/refunds"]
    assert len(sent) == 2 and sent[0]["amount"] == {"refund": 12000, "total": 30000, "currency": "CNY"}
    assert sent[0]["notify_url"] == f"{PUBLIC}/api/v1/payments/wechatpay_v3/notify"
    assert list(Fake.refunds) == ["RF-1"] and Fake.refunded_cents("ORD-1001") == 12000


def test_refunds_wechat_refuses_for_good_are_business_rule_violations(provider: Any) -> None:
    _paid(provider)
    provider.refund(_refund("RF-1", 20000))
    with pytest.raises(BusinessRuleViolation) as err:  # 20000 + 20000 is more than was paid
        provider.refund(_refund("RF-2", 20000))
    assert (err.value.code, err.value.details["wechat_code"]) == ("wechatpay_refused", "NOT_ENOUGH")
    with pytest.raises(BusinessRuleViolation) as err:  # a refund number reused for another amount
        provider.refund(_refund("RF-1", 5000))
    assert err.value.details["wechat_code"] == "INVALID_REQUEST" and "不一致" in err.value.message
    assert Fake.refunded_cents("ORD-1001") == 20000


@pytest.mark.parametrize("wechat, ours", [
    ("SUCCESS", "succeeded"), ("PROCESSING", "processing"), ("ABNORMAL", "failed"), ("CLOSED", "failed")])
def test_query_refund_maps_the_state(provider: Any, wechat: str, ours: str) -> None:
    _paid(provider)
    provider.refund(_refund("RF-1", 100))
    Fake.refunds["RF-1"]["status"] = wechat
    state = provider.query_refund("RF-1")
    assert (state.out_refund_no, state.status, state.amount_cents) == ("RF-1", ours, 100)
    assert Fake.calls[-1][:2] == ("GET", "/v3/refund/domestic/refunds/RF-1")


def test_query_refund_of_an_unknown_number_is_refused(provider: Any) -> None:
    with pytest.raises(BusinessRuleViolation) as err:
        provider.query_refund("RF-NOPE")
    assert err.value.details["wechat_code"] == "RESOURCE_NOT_EXISTS"


@pytest.mark.parametrize("wechat, ours", [
    ("SUCCESS", "paid"), ("REFUND", "paid"), ("NOTPAY", "pending"), ("USERPAYING", "pending"),
    ("CLOSED", "closed"), ("REVOKED", "closed"), ("PAYERROR", "closed")])
def test_query_payment_maps_the_state(provider: Any, wechat: str, ours: str) -> None:
    transaction_id = _paid(provider)
    Fake.orders["ORD-1001"]["trade_state"] = wechat
    state = provider.query_payment("ORD-1001")
    assert (state.out_trade_no, state.status, state.transaction_id, state.amount_cents) == \
        ("ORD-1001", ours, transaction_id, 30000)
    assert Fake.calls[-1][:2] == ("GET", f"/v3/pay/transactions/out-trade-no/ORD-1001?mchid={MCH_ID}")


def test_query_payment_of_an_order_wechat_never_opened_is_closed(provider: Any) -> None:
    assert provider.query_payment("ORD-NEVER").status == "closed"


def test_share_splits_to_the_lab_and_unfreezes_the_rest(provider: Any) -> None:
    transaction_id = _paid(provider, sharing=True)
    request = ShareRequest(transaction_id=transaction_id, out_order_no="SH-1001", receiver_type="MERCHANT_ID",
                           receiver_account=LAB_MCH_ID, amount_cents=24000, description="检测服务结算")
    state = provider.share(dataclasses.replace(request, receiver_name=LAB_NAME))

    assert (state.out_order_no, state.status) == ("SH-1001", "processing") and state.order_id
    # the lab's full name travels encrypted with the platform key
    assert Fake.receivers[("MERCHANT_ID", LAB_MCH_ID)]["name"] == LAB_NAME
    split = Fake.splits["SH-1001"]["receivers"]
    assert [(r["account"], r["amount"]) for r in split] == [(LAB_MCH_ID, 24000), (MCH_ID, 6000)]
    assert Fake.orders["ORD-1001"]["frozen"] == 0
    assert [b.get("unfreeze_unsplit") for _, p, b in Fake.calls if p == "/v3/profitsharing/orders"] == [True]
    assert provider.query_share(transaction_id, "SH-1001").status == "finished"

    # the same split again answers the first; the receiver being there already is fine
    assert provider.share(dataclasses.replace(request, receiver_name=LAB_NAME)).order_id == state.order_id
    with pytest.raises(BusinessRuleViolation) as err:  # nothing is left frozen
        provider.share(ShareRequest(transaction_id, "SH-1002", "MERCHANT_ID", LAB_MCH_ID, 1, "再分一次"))
    assert err.value.details["wechat_code"] == "NOT_ENOUGH"


def test_share_needs_a_payment_made_for_profit_sharing(provider: Any) -> None:
    transaction_id = _paid(provider)
    with pytest.raises(BusinessRuleViolation) as err:
        provider.share(ShareRequest(transaction_id, "SH-1", "MERCHANT_ID", LAB_MCH_ID, 100, "结算", LAB_NAME))
    assert err.value.code == "wechatpay_refused" and "分账" in err.value.message


def test_a_split_wechat_closed_is_a_refusal(provider: Any) -> None:
    transaction_id = _paid(provider, sharing=True)
    provider.share(ShareRequest(transaction_id, "SH-1", "MERCHANT_ID", LAB_MCH_ID, 100, "结算", LAB_NAME))
    Fake.splits["SH-1"]["receivers"][0].update(result="CLOSED", fail_reason="ACCOUNT_ABNORMAL")
    with pytest.raises(BusinessRuleViolation) as err:
        provider.query_share(transaction_id, "SH-1")
    assert err.value.details["wechat_code"] == "ACCOUNT_ABNORMAL"


def test_answers_wechat_did_not_sign_are_a_503(provider: Any, other_key: rsa.RSAPrivateKey) -> None:
    Fake.answer_key = other_key
    with pytest.raises(DependencyUnavailable) as err:
        provider.start(_pay())
    assert err.value.details["reason"] == "bad_signature" and "签名" in err.value.message


def test_requests_signed_with_another_merchant_key_are_refused_with_a_503(
        tmp_path: Path, keys: Keys, fake: str) -> None:
    other = make_keys(tmp_path)  # WeChat holds keys.merchant's certificate, not this one
    provider = _provider(tmp_path, keys, fake, WECHATPAY_MCH_KEY=str(other.merchant_key_file))
    with pytest.raises(DependencyUnavailable) as err:
        provider.start(_pay())
    assert err.value.details["wechat_code"] == "SIGN_ERROR"


def test_platform_certificates_are_read_from_cert_dir_or_downloaded(tmp_path: Path, keys: Keys, fake: str) -> None:
    cert_dir = tmp_path / "certs"
    cert_dir.mkdir()
    (cert_dir / f"{keys.certificate_serial}.pem").write_text(certificate_pem(keys))
    provider = _provider(tmp_path, keys, fake, WECHATPAY_PUBLIC_KEY="", WECHATPAY_PUBLIC_KEY_ID="",
                         WECHATPAY_CERT_DIR=str(cert_dir))
    assert Fake.calls == []  # built offline
    Fake.answer_serial = keys.certificate_serial
    _paid(provider)
    notice = provider.parse_notification(*payment_notification(keys, "ORD-1001", serial=keys.certificate_serial))
    assert notice.amount_cents == 30000
    assert not any(path == "/v3/certificates" for _, path, _ in Fake.calls)

    # no cert_dir: the first answer makes it fetch the certificates from the configured root
    fresh = _provider(tmp_path, keys, fake, WECHATPAY_PUBLIC_KEY="", WECHATPAY_PUBLIC_KEY_ID="")
    assert fresh.query_payment("ORD-1001").status == "paid"
    assert [path for _, path, _ in Fake.calls].count("/v3/certificates") == 1


def _closed_port() -> int:
    with socket.socket() as sock:  # a port nobody listens on once closed
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_wechat_unreachable_is_a_503(tmp_path: Path, keys: Keys) -> None:
    provider = _provider(tmp_path, keys, f"http://127.0.0.1:{_closed_port()}/")
    for call in (lambda: provider.start(_pay()), lambda: provider.refund(_refund("RF-1", 100)),
                 lambda: provider.query_refund("RF-1"), lambda: provider.query_payment("ORD-1001")):
        with pytest.raises(DependencyUnavailable) as err:
            call()
        assert err.value.status == 503 and err.value.details["reason"] == "unreachable"


def test_a_hung_wechat_times_out(tmp_path: Path, keys: Keys, fake: str) -> None:
    Fake.hang = threading.Event()
    provider = WeChatPayV3Provider.from_settings(load_settings(_env(tmp_path, keys, fake)), timeout=1.0)
    began = time.monotonic()
    with pytest.raises(DependencyUnavailable) as err:
        provider.refund(_refund("RF-1", 100))
    assert time.monotonic() - began < 5 and err.value.details["reason"] == "timeout"


@pytest.mark.parametrize("env, named", [
    ({"WECHATPAY_APIV3_KEY": "", "WECHATPAY_CERT_SERIAL_NO": ""}, ["WECHATPAY_APIV3_KEY", "WECHATPAY_CERT_SERIAL_NO"]),
    ({"WECHAT_MINI_APP_ID": ""}, ["WECHATPAY_APP_ID"]),
    ({"WECHATPAY_PUBLIC_KEY_ID": ""}, ["WECHATPAY_PUBLIC_KEY_ID"]),
    ({"WECHATPAY_APIV3_KEY": "too-short"}, ["WECHATPAY_APIV3_KEY"]),
    ({"WECHATPAY_MCH_KEY": "/nonexistent/apiclient_key.pem"}, ["WECHATPAY_MCH_KEY"]),
])
def test_bad_settings_name_the_variables(tmp_path: Path, keys: Keys, env: dict[str, str], named: list[str]) -> None:
    with pytest.raises(DependencyUnavailable) as err:
        _provider(tmp_path, keys, "http://127.0.0.1:9/", **env)
    assert err.value.code == "wechatpay_not_configured"
    assert all(variable in err.value.message for variable in named)
