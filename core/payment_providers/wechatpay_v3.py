"""WeChat Pay API v3 (JSON, RSA signatures, AES-GCM notifications) through the wechatpayv3 SDK.

New merchants only get v3. The mini-program pays with JSAPI: we open a transaction, WeChat
answers a prepay_id, and the client gets the RSA-signed parameters for wx.requestPayment.
WeChat then POSTs a signed notification whose `resource` is encrypted with our APIv3 key.
A payment opened with profit_sharing stays frozen until share() splits it (分账).
"""
from __future__ import annotations

import json
import logging
import secrets
import time
from typing import Any, Callable, Mapping
from urllib.parse import quote

import requests
from wechatpayv3 import WeChatPayType
from wechatpayv3.utils import aes_decrypt

from core.config import Settings
from core.errors import BusinessRuleViolation, DependencyUnavailable
from core.payment_providers.base import (
    PAYMENT_CLOSED, PAYMENT_PAID, PAYMENT_PENDING, REFUND_FAILED, REFUND_PROCESSING, REFUND_SUCCEEDED,
    InvalidNotification, Notice, PaymentNotice, PaymentState, PayRequest, RefundNotice, RefundRequest,
    RefundState, ShareRequest, ShareState,
)

from core.payment_providers.wechatpay_v3_sdk import Client, GatewayCore, PlatformKeyError, read_pem, signature_headers

log = logging.getLogger(__name__)

NOTIFY_PATH = "/api/v1/payments/wechatpay_v3/notify"
_TIMEOUT_SECONDS = 10.0  # a hung WeChat must not hold a web worker or a job (the SDK has no default)
_MAX_CLOCK_SKEW_SECONDS = 300  # v3 asks merchants to refuse notifications stamped more than 5 minutes off
_SIGNATURE_HEADERS = ("Wechatpay-Signature", "Wechatpay-Timestamp", "Wechatpay-Nonce", "Wechatpay-Serial")
_RELATION_TYPE = "SUPPLIER"  # a lab supplies the testing service the platform sells
# refusals worth retrying: WeChat's own trouble, rate limits, a signature it could not check
_RETRYABLE_CODES = frozenset({"SYSTEM_ERROR", "BANK_ERROR", "FREQUENCY_LIMITED", "SIGN_ERROR"})
_REFUND_STATUS = {"SUCCESS": (REFUND_SUCCEEDED, ""), "PROCESSING": (REFUND_PROCESSING, ""),
                  "ABNORMAL": (REFUND_FAILED, "退款异常：用户的收款账户异常，需在商户平台或通过异常退款接口处理"),
                  "CLOSED": (REFUND_FAILED, "退款已关闭")}
_REFUND_EVENTS = {"REFUND.SUCCESS": "SUCCESS", "REFUND.ABNORMAL": "ABNORMAL", "REFUND.CLOSED": "CLOSED"}
_TRADE_STATUS = {"SUCCESS": PAYMENT_PAID, "REFUND": PAYMENT_PAID, "NOTPAY": PAYMENT_PENDING,
                 "USERPAYING": PAYMENT_PENDING, "CLOSED": PAYMENT_CLOSED, "REVOKED": PAYMENT_CLOSED,
                 "PAYERROR": PAYMENT_CLOSED}


def _invalid(message: str, code: str = "invalid_notification") -> InvalidNotification:
    return InvalidNotification(message, code=code)


def _clip(text: str, max_bytes: int) -> str:
    # v3 limits these fields in UTF-8 bytes; cut at a whole character
    return text.encode()[:max_bytes].decode(errors="ignore")


def _json_object(text: Any) -> dict[str, Any] | None:
    try:
        data = json.loads(text)
    except (TypeError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _path_id(value: str) -> str:
    # our numbers go into URL paths; quoting keeps a stray "/" or "?" from changing the request
    return quote(value, safe="")


def _cents(data: Mapping[str, Any], key: str) -> int | None:
    amount = data.get("amount")
    value = amount.get(key) if isinstance(amount, dict) else None
    return value if isinstance(value, int) and not isinstance(value, bool) else None


class WeChatPayV3Provider:
    name = "wechatpay_v3"
    supports_profit_sharing = True

    def __init__(self, client: Client, apiv3_key: str, timeout: float) -> None:
        self._client, self._core, self._apiv3_key, self._timeout = client, client._core, apiv3_key, timeout

    @classmethod
    def from_settings(cls, settings: Settings, *, timeout: float = _TIMEOUT_SECONDS) -> WeChatPayV3Provider:
        pay: Mapping[str, str] = settings.wechatpay
        # a mini-program merchant usually pays into the mini-program's own app id
        appid = pay.get("WECHATPAY_APP_ID") or settings.wechat.get("WECHAT_MINI_APP_ID")
        missing = [key for key in ("WECHATPAY_MCH_ID", "WECHATPAY_APIV3_KEY", "WECHATPAY_CERT_SERIAL_NO",
                                   "WECHATPAY_MCH_KEY") if not pay.get(key)]
        if not appid:
            missing.append("WECHATPAY_APP_ID（或 WECHAT_MINI_APP_ID）")
        if bool(pay.get("WECHATPAY_PUBLIC_KEY")) != bool(pay.get("WECHATPAY_PUBLIC_KEY_ID")):
            missing.append("WECHATPAY_PUBLIC_KEY 与 WECHATPAY_PUBLIC_KEY_ID（须同时设置）")
        if missing:
            raise DependencyUnavailable("微信支付 APIv3 未配置：请设置 " + "、".join(missing) + "。",
                                        code="wechatpay_not_configured", details={"missing": missing})
        apiv3_key = pay["WECHATPAY_APIV3_KEY"]
        if len(apiv3_key.encode()) != 32:
            raise DependencyUnavailable("WECHATPAY_APIV3_KEY 须为商户平台设置的 32 位 APIv3 密钥。",
                                        code="wechatpay_not_configured")
        public_key = (read_pem(pay["WECHATPAY_PUBLIC_KEY"], "WECHATPAY_PUBLIC_KEY", private=False)
                      if pay.get("WECHATPAY_PUBLIC_KEY") else None)
        cert_dir = pay.get("WECHATPAY_CERT_DIR")
        # platform certificates: the only way without a public key, or alongside it while WeChat migrates
        core = GatewayCore(settings.wechatpay_api_base,
                           use_certificates=public_key is None or bool(cert_dir),
                           mchid=pay["WECHATPAY_MCH_ID"], cert_serial_no=pay["WECHATPAY_CERT_SERIAL_NO"],
                           private_key=read_pem(pay["WECHATPAY_MCH_KEY"], "WECHATPAY_MCH_KEY", private=True),
                           apiv3_key=apiv3_key, cert_dir=cert_dir, timeout=timeout, public_key=public_key,
                           public_key_id=pay.get("WECHATPAY_PUBLIC_KEY_ID") if public_key else None)
        return cls(Client(core, appid, settings.public_base_url + NOTIFY_PATH), apiv3_key, timeout)

    def _call(self, what: str, call: Callable[..., tuple[int, Any]], **kwargs: Any) -> dict[str, Any]:
        """Run one SDK call: a verified 2xx answer's JSON, a refusal for good, or a 503."""
        def unavailable(message: str, reason: str, **details: Any) -> DependencyUnavailable:
            return DependencyUnavailable(message, code="wechatpay_unavailable", details={"reason": reason, **details})

        try:
            status, answer = call(**kwargs)
        except requests.Timeout as exc:
            raise unavailable(f"微信支付{what}超时：{self._timeout:g} 秒内没有应答。", "timeout") from exc
        except requests.RequestException as exc:
            raise unavailable(f"无法连接微信支付（{what}）：{type(exc).__name__}。", "unreachable") from exc
        except PlatformKeyError as exc:
            raise unavailable(f"微信支付{what}的应答未通过签名验证：{exc}。", "bad_signature") from exc
        data = _json_object(answer)
        if 200 <= status < 300:
            if data is None and answer:
                raise unavailable(f"微信支付{what}的应答不是 JSON。", "bad_answer", http_status=status)
            return data or {}
        code, message = (data or {}).get("code"), (data or {}).get("message") or ""
        if isinstance(code, str) and 400 <= status < 500 and status not in (401, 429) and code not in _RETRYABLE_CODES:
            raise BusinessRuleViolation(f"微信支付拒绝了{what}：{message or code}", code="wechatpay_refused",
                                        details={"wechat_code": code, "wechat_message": message, "http_status": status})
        said = f"：{code} {message}".rstrip() if isinstance(code, str) else ""
        raise unavailable(f"微信支付{what}失败（HTTP {status}）{said}。", "http_status", http_status=status,
                          wechat_code=code if isinstance(code, str) else None)

    def start(self, request: PayRequest) -> dict[str, Any]:
        if not request.openid:
            raise BusinessRuleViolation("微信支付需要付款人的 openid：请通过小程序登录。", code="wechat_openid_required")
        if request.amount_cents <= 0:
            raise BusinessRuleViolation("该订单没有需要用微信支付的金额。", code="nothing_to_pay")
        answer = self._call(
            "下单", self._client.pay, pay_type=WeChatPayType.MINIPROG, out_trade_no=request.out_trade_no,
            description=_clip(request.description, 127) or request.out_trade_no,
            amount={"total": request.amount_cents, "currency": "CNY"}, payer={"openid": request.openid},
            scene_info={"payer_client_ip": request.client_ip} if request.client_ip else None,
            # frozen until share() splits it, instead of settling into the merchant's balance
            settle_info={"profit_sharing": True} if request.profit_sharing else None)
        prepay_id = answer.get("prepay_id")
        if not isinstance(prepay_id, str) or not prepay_id:
            raise DependencyUnavailable("微信支付下单的应答中没有 prepay_id。", code="wechatpay_unavailable")
        return {"provider": self.name, "out_trade_no": request.out_trade_no, "jsapi": self._jsapi_params(prepay_id)}

    def _jsapi_params(self, prepay_id: str) -> dict[str, str]:
        """What wx.requestPayment needs; paySign is RSA-SHA256 over appId, timeStamp, nonceStr and package."""
        params = {"appId": self._client._appid, "timeStamp": str(int(time.time())),
                  "nonceStr": secrets.token_hex(16), "package": f"prepay_id={prepay_id}", "signType": "RSA"}
        params["paySign"] = self._client.sign([params[k] for k in ("appId", "timeStamp", "nonceStr", "package")])
        return params

    def parse_notification(self, body: bytes, headers: Mapping[str, str]) -> Notice:
        signed = signature_headers(headers)
        absent = [name for name in _SIGNATURE_HEADERS if not signed[name]]
        if absent:
            raise _invalid("微信支付通知缺少签名头：" + "、".join(absent) + "。", "bad_signature")
        try:
            text = body.decode("utf-8")
            stamped = int(signed["Wechatpay-Timestamp"])
        except (UnicodeDecodeError, ValueError):
            raise _invalid("微信支付通知的正文或时间戳无法读取。", "bad_signature") from None
        if abs(time.time() - stamped) > _MAX_CLOCK_SKEW_SECONDS:
            raise _invalid("微信支付通知的时间戳与当前时间相差超过 5 分钟。", "stale_notification")
        try:
            self._core._verify_signature(signed, text)
        except PlatformKeyError as exc:
            raise _invalid(f"微信支付通知的签名无效：{exc}。", "bad_signature") from None
        envelope = _json_object(text)
        resource = (envelope or {}).get("resource")
        if (envelope is None or envelope.get("resource_type") != "encrypt-resource" or not isinstance(resource, dict)
                or resource.get("algorithm") != "AEAD_AES_256_GCM"
                or not all(isinstance(resource.get(k), str) for k in ("nonce", "ciphertext"))):
            raise _invalid("微信支付通知的格式不对。")
        try:
            plain = aes_decrypt(nonce=resource["nonce"], ciphertext=resource["ciphertext"],
                                associated_data=str(resource.get("associated_data") or ""), apiv3_key=self._apiv3_key)
        except (ValueError, TypeError):  # not base64, a nonce of the wrong length, not UTF-8
            plain = None
        data = _json_object(plain) if plain is not None else None
        if data is None:
            raise _invalid("无法用 APIv3 密钥解密微信支付通知（密钥不符或内容被篡改）。", "undecryptable")
        # signed by WeChat yet for another merchant: not money of ours
        if data.get("mchid") != self._client._mchid:
            raise _invalid("该微信支付通知属于其他商户。", "wrong_merchant")
        event = envelope.get("event_type")
        if event == "TRANSACTION.SUCCESS":
            return self._payment_notice(data)
        if event in _REFUND_EVENTS:
            return self._refund_notice(data, _REFUND_EVENTS[event])
        raise _invalid(f"不处理的微信支付通知类型：{event}。", "unsupported_event")

    def _payment_notice(self, data: dict[str, Any]) -> PaymentNotice:
        if data.get("appid") != self._client._appid:
            raise _invalid("该微信支付通知属于其他应用（appid 不符）。", "wrong_merchant")
        if data.get("trade_state") != "SUCCESS":
            raise _invalid("该微信支付通知没有报告支付成功。", "payment_not_successful")
        out_trade_no, transaction_id, total = data.get("out_trade_no"), data.get("transaction_id"), _cents(data, "total")
        if not (isinstance(out_trade_no, str) and isinstance(transaction_id, str) and total is not None):
            raise _invalid("微信支付通知缺少订单号、交易号或金额。")
        return PaymentNotice(out_trade_no, transaction_id, total)

    def _refund_notice(self, data: dict[str, Any], status: str) -> RefundNotice:
        if data.get("refund_status") != status:
            raise _invalid("微信支付退款通知的类型与退款状态不一致。")
        out_trade_no = data.get("out_trade_no")
        if not isinstance(out_trade_no, str) or not isinstance(data.get("out_refund_no"), str):
            raise _invalid("微信支付退款通知缺少订单号或退款单号。")
        return RefundNotice(self._refund_state(data), out_trade_no)

    @staticmethod
    def _refund_state(data: dict[str, Any]) -> RefundState:
        status = data.get("status") or data.get("refund_status")  # answers say status, notifications refund_status
        if status not in _REFUND_STATUS or not isinstance(data.get("out_refund_no"), str):
            raise DependencyUnavailable(f"微信支付返回了无法识别的退款状态：{status}。", code="wechatpay_unavailable")
        refund_id, (ours, message) = data.get("refund_id"), _REFUND_STATUS[status]
        return RefundState(out_refund_no=data["out_refund_no"], status=ours, message=message,
                           refund_id=refund_id if isinstance(refund_id, str) else None,
                           amount_cents=_cents(data, "refund"))

    def acknowledgement(self, ok: bool, message: str = "") -> tuple[bytes, str, int]:
        # v3: 200/204 and no body is success; anything 4xx/5xx makes WeChat send the notification again
        if ok:
            return b"", "application/json", 204
        body = json.dumps({"code": "FAIL", "message": message or "失败"}, ensure_ascii=False).encode()
        return body, "application/json; charset=utf-8", 400

    def refund(self, request: RefundRequest) -> RefundState:
        if not 0 < request.refund_cents <= request.total_cents:
            raise BusinessRuleViolation("退款金额须大于 0 且不超过支付金额。", code="invalid_refund_amount")
        # WeChat refunds a given out_refund_no once, so a retried job cannot pay back twice
        answer = self._call("退款", self._client.refund, out_refund_no=request.out_refund_no,
                            out_trade_no=request.out_trade_no, reason=_clip(request.reason, 80) or None,
                            amount={"refund": request.refund_cents, "total": request.total_cents, "currency": "CNY"},
                            notify_url=self._client._notify_url)
        return self._refund_state(answer)

    def query_refund(self, out_refund_no: str) -> RefundState:
        return self._refund_state(self._call("退款查询", self._client.query_refund,
                                             out_refund_no=_path_id(out_refund_no)))

    def query_payment(self, out_trade_no: str) -> PaymentState:
        try:
            answer = self._call("订单查询", self._client.query, out_trade_no=_path_id(out_trade_no))
        except BusinessRuleViolation as exc:
            # WeChat never opened it, so nobody can pay it (a new attempt opens a new one)
            if exc.details.get("wechat_code") == "ORDER_NOT_EXIST":
                return PaymentState(out_trade_no, PAYMENT_CLOSED)
            raise
        state = answer.get("trade_state")
        if state not in _TRADE_STATUS:
            raise DependencyUnavailable(f"微信支付返回了无法识别的订单状态：{state}。", code="wechatpay_unavailable")
        transaction_id = answer.get("transaction_id")
        return PaymentState(out_trade_no, _TRADE_STATUS[state],
                            transaction_id if isinstance(transaction_id, str) and transaction_id else None,
                            _cents(answer, "total"))

    def share(self, request: ShareRequest) -> ShareState:
        """Split `amount_cents` to the receiver and unfreeze the rest to the platform merchant. v3 adds a
        MERCHANT_ID receiver only with its registered full name: without `receiver_name` the receiver
        must have been added at onboarding, and adding is skipped."""
        if request.amount_cents <= 0:
            raise BusinessRuleViolation("分账金额须大于 0。", code="nothing_to_share")
        if request.receiver_type not in ("MERCHANT_ID", "PERSONAL_OPENID"):
            raise BusinessRuleViolation(f"不支持的分账接收方类型：{request.receiver_type}。", code="invalid_receiver")
        receiver_name = request.receiver_name or None
        if receiver_name or request.receiver_type == "PERSONAL_OPENID":
            self._add_receiver(request, receiver_name)
        answer = self._call("分账", self._client.profitsharing_order, transaction_id=request.transaction_id,
                            out_order_no=request.out_order_no, unfreeze_unsplit=True,
                            receivers=[{"type": request.receiver_type, "account": request.receiver_account,
                                        "amount": request.amount_cents,
                                        "description": _clip(request.description, 80) or "分账"}])
        return self._share_state(answer, request.out_order_no)

    def _add_receiver(self, request: ShareRequest, receiver_name: str | None) -> None:
        try:  # the SDK encrypts the name with the platform key, as v3 requires
            self._call("添加分账接收方", self._client.profitsharing_add_receiver, account_type=request.receiver_type,
                       account=request.receiver_account, relation_type=_RELATION_TYPE, name=receiver_name)
        except BusinessRuleViolation as exc:
            # a receiver added before (at onboarding or an earlier split) is what we want
            if "已存在" not in str(exc.details.get("wechat_message")):
                raise

    def query_share(self, transaction_id: str, out_order_no: str) -> ShareState:
        answer = self._call("分账查询", self._client.profitsharing_order_query,
                            transaction_id=_path_id(transaction_id), out_order_no=_path_id(out_order_no))
        return self._share_state(answer, out_order_no)

    @staticmethod
    def _share_state(answer: dict[str, Any], out_order_no: str) -> ShareState:
        state = answer.get("state")
        if state not in ("PROCESSING", "FINISHED"):
            raise DependencyUnavailable(f"微信支付返回了无法识别的分账状态：{state}。", code="wechatpay_unavailable")
        for receiver in answer.get("receivers") or []:
            # ShareState has no "failed": a receiver WeChat closed is a refusal for good
            if isinstance(receiver, dict) and receiver.get("result") == "CLOSED":
                reason = str(receiver.get("fail_reason") or "")
                raise BusinessRuleViolation(f"微信支付分账给 {receiver.get('account')} 失败：{reason or '已关闭'}",
                                            code="wechatpay_refused",
                                            details={"wechat_code": reason, "account": receiver.get("account")})
        order_id = answer.get("order_id")
        return ShareState(out_order_no, "finished" if state == "FINISHED" else "processing",
                          order_id if isinstance(order_id, str) else None)
