"""A local stand-in for WeChat Pay's v2 HTTP API (XML, MD5 signatures): the
client's API_BASE_URL points here. It checks every request's signature with
the merchant API key and signs its answers, as WeChat does."""
from __future__ import annotations

import secrets
import time
from http.server import BaseHTTPRequestHandler
from typing import Any, Mapping
from urllib.parse import urlparse

import xmltodict
from wechatpy.pay.utils import calculate_signature, dict_to_xml

API_KEY = "fake-wechatpay-api-key-0123456789"  # merchant API keys are 32 characters
MCH_ID = "1900000109"
APP_ID = "wx-fake-mini-app"


class FakeWeChatPay(BaseHTTPRequestHandler):
    api_key: str = API_KEY
    calls: list[tuple[str, dict[str, Any]]] = []  # (path, request fields without the sign)
    orders: dict[str, dict[str, Any]] = {}  # out_trade_no -> the unified order's fields + prepay_id
    refunds: dict[str, dict[str, Any]] = {}  # out_refund_no -> the refund WeChat carried out
    paid: dict[str, str] = {}  # out_trade_no -> transaction_id, once the user paid
    refund_status: str = "SUCCESS"  # what a refund query answers

    @classmethod
    def reset(cls) -> None:
        cls.api_key, cls.calls, cls.orders, cls.refunds, cls.paid = API_KEY, [], {}, {}, {}
        cls.refund_status = "SUCCESS"

    @classmethod
    def refunded_cents(cls, out_trade_no: str) -> int:
        return sum(int(r["refund_fee"]) for r in cls.refunds.values() if r["out_trade_no"] == out_trade_no)

    def _send(self, fields: dict[str, Any], sign: bool = True) -> None:
        fields = {k: v for k, v in fields.items() if v not in (None, "")}  # absent, as WeChat leaves them
        body = dict_to_xml(fields, calculate_signature(fields, self.api_key) if sign else None).encode()
        self.send_response(200)  # WeChat answers 200 and puts the outcome in the XML
        self.send_header("Content-Type", "text/xml; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _fail(self, message: str) -> None:
        self._send({"return_code": "FAIL", "return_msg": message}, sign=False)

    def _business_error(self, request: Mapping[str, Any], err_code: str, message: str) -> None:
        self._send({"return_code": "SUCCESS", "return_msg": "OK", "appid": request.get("appid"),
                    "mch_id": request.get("mch_id"), "nonce_str": secrets.token_hex(16),
                    "result_code": "FAIL", "err_code": err_code, "err_code_des": message})

    def do_POST(self) -> None:  # noqa: N802
        path = urlparse(self.path).path
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        try:
            request = dict(xmltodict.parse(raw)["xml"])
        except Exception:  # noqa: BLE001 - whatever it is, WeChat calls it malformed
            return self._fail("XML格式错误")
        sign = request.pop("sign", None)
        FakeWeChatPay.calls.append((path, request))
        if sign != calculate_signature(request, self.api_key):
            return self._fail("签名错误")
        if path == "/pay/unifiedorder":
            return self._unified_order(request)
        if path == "/secapi/pay/refund":
            return self._refund(request)
        if path == "/pay/refundquery":
            return self._refund_query(request)
        if path == "/pay/orderquery":
            return self._order_query(request)
        return self._fail(f"no such API in the stand-in: {path}")

    def _unified_order(self, request: dict[str, Any]) -> None:
        if request.get("trade_type") == "JSAPI" and not request.get("openid"):
            return self._business_error(request, "PARAM_ERROR", "JSAPI支付必须传openid")
        if not request.get("notify_url") or not str(request.get("total_fee", "")).isdigit():
            return self._business_error(request, "PARAM_ERROR", "缺少参数")
        known = FakeWeChatPay.orders.get(request["out_trade_no"])
        if known and known["total_fee"] != request["total_fee"]:
            return self._business_error(request, "INVALID_REQUEST", "201 商户订单号重复")
        # the same order opened again gets the same prepay_id, as with WeChat
        prepay_id = known["prepay_id"] if known else "wx" + time.strftime("%Y%m%d%H%M%S") + secrets.token_hex(8)
        FakeWeChatPay.orders[request["out_trade_no"]] = {**request, "prepay_id": prepay_id}
        self._send({"return_code": "SUCCESS", "return_msg": "OK", "appid": request["appid"],
                    "mch_id": request["mch_id"], "nonce_str": secrets.token_hex(16), "result_code": "SUCCESS",
                    "prepay_id": prepay_id, "trade_type": request["trade_type"]})

    def _refund(self, request: dict[str, Any]) -> None:
        order = FakeWeChatPay.orders.get(request.get("out_trade_no", ""))
        if order is None:
            return self._business_error(request, "ORDERNOTEXIST", "订单不存在")
        done = FakeWeChatPay.refunds.get(request["out_refund_no"])
        if done is not None and (done["refund_fee"] != request["refund_fee"]
                                 or done["out_trade_no"] != request["out_trade_no"]):
            # WeChat's rule: one refund number, one refund; another amount under it is refused
            return self._business_error(request, "INVALID_REQUEST", "订单金额或退款金额与之前请求不一致，请核实后再试")
        if done is None:
            refund_fee = int(request["refund_fee"])
            if request["total_fee"] != order["total_fee"]:
                return self._business_error(request, "INVALID_REQUEST", "订单金额或退款金额与之前请求不一致")
            if refund_fee <= 0 or self.refunded_cents(order["out_trade_no"]) + refund_fee > int(order["total_fee"]):
                return self._business_error(request, "NOTENOUGH", "退款金额大于支付金额")
            done = {"out_trade_no": order["out_trade_no"], "out_refund_no": request["out_refund_no"],
                    "refund_fee": str(refund_fee), "refund_id": "50" + secrets.token_hex(12)}
            FakeWeChatPay.refunds[request["out_refund_no"]] = done
        # a repeated out_refund_no answers the refund already made and refunds nothing more
        self._send({"return_code": "SUCCESS", "return_msg": "OK", "appid": request["appid"],
                    "mch_id": request["mch_id"], "nonce_str": secrets.token_hex(16), "result_code": "SUCCESS",
                    "transaction_id": "42" + secrets.token_hex(12), "total_fee": order["total_fee"],
                    "cash_fee": order["total_fee"], **done})

    def _refund_query(self, request: dict[str, Any]) -> None:
        done = FakeWeChatPay.refunds.get(request.get("out_refund_no", ""))
        if done is None:
            return self._business_error(request, "REFUNDNOTEXIST", "退款订单查询失败")
        self._send({"return_code": "SUCCESS", "return_msg": "OK", "appid": request["appid"],
                    "mch_id": request["mch_id"], "nonce_str": secrets.token_hex(16), "result_code": "SUCCESS",
                    "out_trade_no": done["out_trade_no"], "refund_count": "1", "out_refund_no_0": done["out_refund_no"],
                    "refund_id_0": done["refund_id"], "refund_fee_0": done["refund_fee"],
                    "refund_status_0": FakeWeChatPay.refund_status})

    def _order_query(self, request: dict[str, Any]) -> None:
        order = FakeWeChatPay.orders.get(request.get("out_trade_no", ""))
        if order is None:
            return self._business_error(request, "ORDERNOTEXIST", "此交易订单号不存在")
        paid = FakeWeChatPay.paid.get(order["out_trade_no"])
        self._send({"return_code": "SUCCESS", "return_msg": "OK", "appid": request["appid"],
                    "mch_id": request["mch_id"], "nonce_str": secrets.token_hex(16), "result_code": "SUCCESS",
                    "out_trade_no": order["out_trade_no"], "trade_state": "SUCCESS" if paid else "NOTPAY",
                    "transaction_id": paid, "total_fee": order["total_fee"]})

    def log_message(self, *args: object) -> None:
        pass


def signed_payment_notification(api_key: str, out_trade_no: str, total_fee: int, transaction_id: str,
                                appid: str = APP_ID, mch_id: str = MCH_ID, *, openid: str = "o-payer",
                                result_code: str = "SUCCESS",
                                after_signing: Mapping[str, str] | None = None) -> bytes:
    """The XML WeChat POSTs to notify_url when a payment succeeds, signed with `api_key`.
    `after_signing` overwrites fields once the signature is made (a tampered notification)."""
    fields: dict[str, Any] = {
        "appid": appid, "mch_id": mch_id, "nonce_str": secrets.token_hex(16), "result_code": result_code,
        "return_code": "SUCCESS", "openid": openid, "is_subscribe": "N", "trade_type": "JSAPI",
        "bank_type": "OTHERS", "total_fee": str(total_fee), "cash_fee": str(total_fee), "fee_type": "CNY",
        "transaction_id": transaction_id, "out_trade_no": out_trade_no, "time_end": time.strftime("%Y%m%d%H%M%S"),
    }
    sign = calculate_signature(fields, api_key)
    fields.update(after_signing or {})
    return dict_to_xml(fields, sign).encode()


def badly_signed_payment_notification(out_trade_no: str, total_fee: int, transaction_id: str,
                                      appid: str = APP_ID, mch_id: str = MCH_ID) -> bytes:
    """A notification signed with some other key than the merchant's."""
    return signed_payment_notification("not-the-" + API_KEY, out_trade_no, total_fee, transaction_id, appid, mch_id)
