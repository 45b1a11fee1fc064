"""WeChat Pay (API v2: XML bodies, MD5 signatures) through wechatpy's client.

The mini-program pays with JSAPI: we open a unified order, WeChat answers a
prepay_id, and we hand the client the signed parameters for wx.requestPayment.
WeChat then POSTs a signed XML notification to our notify URL.
"""
from __future__ import annotations

from typing import Any, Callable, Mapping

import requests
from wechatpy.exceptions import InvalidSignatureException, WeChatPayException
from wechatpy.pay import WeChatPay

from core.config import Settings
from core.errors import BusinessRuleViolation, DependencyUnavailable
from core.payment_providers.base import (
    PAYMENT_CLOSED, PAYMENT_PAID, PAYMENT_PENDING, REFUND_FAILED, REFUND_PROCESSING, REFUND_SUCCEEDED,
    InvalidNotification, Notice, PaymentNotice, PaymentState, PayRequest, RefundRequest, RefundState, ShareRequest,
    ShareState,
)

NOTIFY_PATH = "/api/v1/payments/wechatpay/notify"
# WeChat rejects a `body` longer than 128 bytes
_BODY_MAX_BYTES = 128
# a hung WeChat must not hold a web worker or a job forever (wechatpy's default is no timeout)
_TIMEOUT_SECONDS = 10.0


def _ack_xml(code: str, message: str) -> bytes:
    # CDATA cannot contain "]]>"; the message is ours, but keep the XML well formed whatever it says
    message = message.replace("]]>", "]]&gt;")
    return (f"<xml><return_code><![CDATA[{code}]]></return_code>"
            f"<return_msg><![CDATA[{message}]]></return_msg></xml>").encode()


def _truncate_utf8(text: str, max_bytes: int) -> str:
    return text.encode()[:max_bytes].decode(errors="ignore")


def _describe(exc: Exception) -> str:
    if isinstance(exc, WeChatPayException):
        parts = [str(p) for p in (exc.return_msg, exc.errcode, exc.errmsg) if p]
        if parts:
            return "微信支付返回：" + "；".join(parts)
        status = getattr(exc.response, "status_code", None)
        return f"微信支付返回 HTTP {status}" if status else "微信支付没有给出可用的应答"
    if isinstance(exc, requests.RequestException):
        return f"无法连接微信支付（{type(exc).__name__}）"
    return f"{type(exc).__name__}: {exc}"  # e.g. the merchant certificate file cannot be read


# WeChat's business error codes that may succeed later; any other refusal is final
_RETRYABLE = frozenset({"SYSTEMERROR", "BIZERR_NEED_RETRY", "NOTENOUGH", "INVALID_REQ_TOO_MUCH", "FREQUENCY_LIMITED"})
_TRADE_STATES = {"SUCCESS": PAYMENT_PAID, "REFUND": PAYMENT_PAID, "NOTPAY": PAYMENT_PENDING,
                 "USERPAYING": PAYMENT_PENDING, "CLOSED": PAYMENT_CLOSED, "REVOKED": PAYMENT_CLOSED,
                 "PAYERROR": PAYMENT_CLOSED}
_REFUND_STATES = {"SUCCESS": REFUND_SUCCEEDED, "PROCESSING": REFUND_PROCESSING, "REFUNDCLOSE": REFUND_FAILED,
                  "CHANGE": REFUND_FAILED}


class WeChatPayProvider:
    name = "wechatpay"
    supports_profit_sharing = False  # v2 profit sharing needs a separate product; v3 merchants use wechatpay_v3

    def __init__(self, client: WeChatPay, notify_url: str, certificate_configured: bool):
        self._client = client
        self._notify_url = notify_url
        self._certificate_configured = certificate_configured

    @classmethod
    def from_settings(cls, settings: Settings) -> WeChatPayProvider:
        pay: Mapping[str, str] = settings.wechatpay
        # a mini-program merchant usually pays into the mini-program's own app id
        appid = pay.get("WECHATPAY_APP_ID") or settings.wechat.get("WECHAT_MINI_APP_ID")
        missing = [key for key in ("WECHATPAY_MCH_ID", "WECHATPAY_API_KEY") if not pay.get(key)]
        if not appid:
            missing.append("WECHATPAY_APP_ID (or WECHAT_MINI_APP_ID)")
        if missing:
            raise DependencyUnavailable(
                "微信支付尚未配置，请设置 " + "、".join(k.replace(" (or ", "（或 ").replace(")", "）") for k in missing) + "。",
                code="wechatpay_not_configured", details={"missing": missing})
        cert, key = pay.get("WECHATPAY_MCH_CERT"), pay.get("WECHATPAY_MCH_KEY")
        client = WeChatPay(appid=appid, api_key=pay["WECHATPAY_API_KEY"], mch_id=pay["WECHATPAY_MCH_ID"],
                           mch_cert=cert, mch_key=key, timeout=_TIMEOUT_SECONDS)
        # per instance, not on the class: tests point one client at a local stand-in
        client.API_BASE_URL = settings.wechatpay_api_base
        return cls(client, settings.public_base_url + NOTIFY_PATH, bool(cert and key))

    def _call(self, what: str, call: Callable[..., Any], **kwargs: Any) -> dict[str, Any]:
        """Run one wechatpy call; anything that is not a signed SUCCESS answer is a 503."""
        try:
            result = call(**kwargs)
        except WeChatPayException as exc:
            if exc.errcode and exc.errcode not in _RETRYABLE:
                raise BusinessRuleViolation(f"微信支付拒绝了{what}：{_describe(exc)}。", code="wechatpay_refused",
                                            details={"err_code": exc.errcode}) from exc
            raise DependencyUnavailable(f"微信支付{what}失败：{_describe(exc)}。", code="wechatpay_unavailable") from exc
        except (requests.RequestException, OSError) as exc:
            hint = ""
            if what == "退款" and not self._certificate_configured:
                # refunds go to secapi/, which demands the merchant's client certificate
                hint = "退款需要配置 WECHATPAY_MCH_CERT 和 WECHATPAY_MCH_KEY。"
            raise DependencyUnavailable(f"微信支付{what}失败：{_describe(exc)}。{hint}",
                                        code="wechatpay_unavailable") from exc
        # wechatpy hands back the raw text when the answer is not XML
        if not isinstance(result, dict):
            raise DependencyUnavailable(f"微信支付{what}的应答不是 XML。",
                                        code="wechatpay_unavailable")
        # wechatpy checks return/result codes but not the answer's signature; a forged
        # prepay_id would only fail later in the user's hands, so check it here
        if not self._client.check_signature(dict(result)):
            raise DependencyUnavailable(f"微信支付{what}的应答签名不正确。",
                                        code="wechatpay_unavailable")
        return result

    def start(self, request: PayRequest) -> dict[str, Any]:
        if not request.openid:
            raise BusinessRuleViolation("微信支付需要付款人的微信 openid：请通过小程序登录后付款。",
                                        code="wechat_openid_required")
        if request.amount_cents <= 0:
            raise BusinessRuleViolation("该订单没有需要通过微信支付的金额。",
                                        code="nothing_to_pay")
        order = self._call(
            "统一下单", self._client.order.create,
            trade_type="JSAPI", body=_truncate_utf8(request.description, _BODY_MAX_BYTES) or request.out_trade_no,
            total_fee=request.amount_cents, notify_url=self._notify_url, user_id=request.openid,
            out_trade_no=request.out_trade_no,
            # without an IP wechatpy would look up WeChat's address to guess ours
            client_ip=request.client_ip or "127.0.0.1")
        prepay_id = order.get("prepay_id")
        if not prepay_id:
            raise DependencyUnavailable("微信支付统一下单没有返回 prepay_id。", code="wechatpay_unavailable")
        return {"provider": self.name, "out_trade_no": request.out_trade_no,
                "jsapi": self._client.jsapi.get_jsapi_params(prepay_id)}

    def parse_notification(self, body: bytes, headers: Mapping[str, str] | None = None) -> Notice:
        try:
            data = self._client.parse_payment_result(body)
        except InvalidSignatureException:
            # wechatpy says the same for unparsable XML; either way it is not WeChat's word
            raise InvalidNotification("微信支付通知的签名不符。",
                                      code="bad_signature") from None
        except (ValueError, TypeError, AttributeError, KeyError):
            raise InvalidNotification("请求内容不是微信支付通知。") from None
        if data.get("return_code") != "SUCCESS" or data.get("result_code") != "SUCCESS":
            raise InvalidNotification("微信支付通知未表明付款成功。",
                                      code="payment_not_successful")
        # signed with our key yet for another merchant or app: not a payment to us
        if data.get("mch_id") != self._client.mch_id or data.get("appid") != self._client.appid:
            raise InvalidNotification("该微信支付通知属于其他商户。", code="wrong_merchant")
        try:
            return PaymentNotice(str(data["out_trade_no"]), str(data["transaction_id"]), int(data["total_fee"]))
        except (KeyError, TypeError, ValueError):
            raise InvalidNotification("微信支付通知缺少订单号、交易号或金额。") from None

    def acknowledgement(self, ok: bool, message: str = "") -> tuple[bytes, str, int]:
        # anything but SUCCESS makes WeChat retry the notification later; v2 reads the XML, not the status
        if ok:
            return _ack_xml("SUCCESS", message or "OK"), "application/xml", 200
        return _ack_xml("FAIL", message or "FAIL"), "application/xml", 400

    def refund(self, request: RefundRequest) -> RefundState:
        # WeChat refunds a given out_refund_no once, so a retried job cannot pay back twice;
        # an accepted refund is still under way until a query says SUCCESS
        answer = self._call("退款", self._client.refund.apply, total_fee=request.total_cents,
                            refund_fee=request.refund_cents, out_refund_no=request.out_refund_no,
                            out_trade_no=request.out_trade_no)
        return RefundState(request.out_refund_no, REFUND_PROCESSING, answer.get("refund_id"), request.refund_cents)

    def query_refund(self, out_refund_no: str) -> RefundState:
        answer = self._call("退款查询", self._client.refund.query, out_refund_no=out_refund_no)
        status = _REFUND_STATES.get(str(answer.get("refund_status_0")), REFUND_PROCESSING)
        fee = answer.get("refund_fee_0")
        return RefundState(out_refund_no, status, answer.get("refund_id_0"), int(fee) if fee else None,
                           "" if status != REFUND_FAILED else f"退款状态 {answer.get('refund_status_0')}")

    def query_payment(self, out_trade_no: str) -> PaymentState:
        answer = self._call("订单查询", self._client.order.query, out_trade_no=out_trade_no)
        status = _TRADE_STATES.get(str(answer.get("trade_state")), PAYMENT_PENDING)
        fee = answer.get("total_fee")
        return PaymentState(out_trade_no, status, answer.get("transaction_id"), int(fee) if fee else None)

    def share(self, request: ShareRequest) -> ShareState:
        raise BusinessRuleViolation("微信支付 v2 商户不支持分账，请改用 wechatpay_v3。", code="profit_sharing_unsupported")
