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
from core.payment_providers.base import InvalidNotification, PaymentNotice, PayRequest

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
            return "WeChat Pay said " + "; ".join(parts)
        status = getattr(exc.response, "status_code", None)
        return f"WeChat Pay answered HTTP {status}" if status else "WeChat Pay gave no usable answer"
    if isinstance(exc, requests.RequestException):
        return f"could not reach WeChat Pay ({type(exc).__name__})"
    return f"{type(exc).__name__}: {exc}"  # e.g. the merchant certificate file cannot be read


class WeChatPayProvider:
    name = "wechatpay"

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
                "WeChat Pay is not configured: set " + ", ".join(missing) + ".",
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
        except (WeChatPayException, requests.RequestException, OSError) as exc:
            hint = ""
            if what == "refund" and not self._certificate_configured:
                # refunds go to secapi/, which demands the merchant's client certificate
                hint = " Refunds need WECHATPAY_MCH_CERT and WECHATPAY_MCH_KEY."
            raise DependencyUnavailable(f"WeChat Pay {what} failed: {_describe(exc)}.{hint}",
                                        code="wechatpay_unavailable") from exc
        # wechatpy hands back the raw text when the answer is not XML
        if not isinstance(result, dict):
            raise DependencyUnavailable(f"WeChat Pay {what} answered something that is not XML.",
                                        code="wechatpay_unavailable")
        # wechatpy checks return/result codes but not the answer's signature; a forged
        # prepay_id would only fail later in the user's hands, so check it here
        if not self._client.check_signature(dict(result)):
            raise DependencyUnavailable(f"WeChat Pay {what} answer has a bad signature.",
                                        code="wechatpay_unavailable")
        return result

    def start(self, request: PayRequest) -> dict[str, Any]:
        if not request.openid:
            raise BusinessRuleViolation("WeChat Pay needs the payer's WeChat openid: sign in through the mini-program.",
                                        code="wechat_openid_required")
        if request.amount_cents <= 0:
            raise BusinessRuleViolation("There is nothing to pay with WeChat Pay for this order.",
                                        code="nothing_to_pay")
        order = self._call(
            "unified order", self._client.order.create,
            trade_type="JSAPI", body=_truncate_utf8(request.description, _BODY_MAX_BYTES) or request.out_trade_no,
            total_fee=request.amount_cents, notify_url=self._notify_url, user_id=request.openid,
            out_trade_no=request.out_trade_no,
            # without an IP wechatpy would look up WeChat's address to guess ours
            client_ip=request.client_ip or "127.0.0.1")
        prepay_id = order.get("prepay_id")
        if not prepay_id:
            raise DependencyUnavailable("WeChat Pay unified order answered no prepay_id.", code="wechatpay_unavailable")
        return {"provider": self.name, "out_trade_no": request.out_trade_no,
                "jsapi": self._client.jsapi.get_jsapi_params(prepay_id)}

    def parse_notification(self, body: bytes) -> PaymentNotice:
        try:
            data = self._client.parse_payment_result(body)
        except InvalidSignatureException:
            # wechatpy says the same for unparsable XML; either way it is not WeChat's word
            raise InvalidNotification("The WeChat Pay notification's signature does not match.",
                                      code="bad_signature") from None
        except (ValueError, TypeError, AttributeError, KeyError):
            raise InvalidNotification("The body is not a WeChat Pay notification.") from None
        if data.get("return_code") != "SUCCESS" or data.get("result_code") != "SUCCESS":
            raise InvalidNotification("The WeChat Pay notification does not report a successful payment.",
                                      code="payment_not_successful")
        # signed with our key yet for another merchant or app: not a payment to us
        if data.get("mch_id") != self._client.mch_id or data.get("appid") != self._client.appid:
            raise InvalidNotification("The WeChat Pay notification is for another merchant.", code="wrong_merchant")
        try:
            return PaymentNotice(str(data["out_trade_no"]), str(data["transaction_id"]), int(data["total_fee"]))
        except (KeyError, TypeError, ValueError):
            raise InvalidNotification("The WeChat Pay notification lacks the order, transaction or amount.") from None

    def acknowledgement(self, ok: bool, message: str = "") -> tuple[bytes, str]:
        # anything but SUCCESS makes WeChat retry the notification later
        if ok:
            return _ack_xml("SUCCESS", message or "OK"), "application/xml"
        return _ack_xml("FAIL", message or "FAIL"), "application/xml"

    def refund(self, out_trade_no: str, total_cents: int, refund_cents: int, refund_no: str) -> None:
        # WeChat refunds a given out_refund_no once, so a retried job cannot pay back twice
        self._call("refund", self._client.refund.apply, total_fee=total_cents, refund_fee=refund_cents,
                   out_refund_no=refund_no, out_trade_no=out_trade_no)
