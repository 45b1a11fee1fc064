"""An in-process provider so the whole loop runs in the demo: the 'payment page'
is an endpoint that produces a signed notification, handled like a real one."""
from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from typing import Any, Mapping

from core.payment_providers.base import (
    PAYMENT_PENDING, REFUND_SUCCEEDED, InvalidNotification, Notice, PaymentNotice, PaymentState, PayRequest,
    RefundRequest, RefundState, ShareRequest, ShareState,
)


class SandboxProvider:
    name = "sandbox"
    supports_profit_sharing = False

    def __init__(self, secret: str):
        self._key = hashlib.sha256(b"sandbox-pay:" + secret.encode()).digest()

    def _sign(self, payload: dict[str, Any]) -> str:
        canonical = json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()
        return hmac.new(self._key, canonical, hashlib.sha256).hexdigest()

    def start(self, request: PayRequest) -> dict[str, Any]:
        return {"provider": self.name, "out_trade_no": request.out_trade_no, "amount_cents": request.amount_cents,
                "pay_url": f"/api/v1/payments/sandbox/{request.out_trade_no}/complete"}

    def signed_notification(self, out_trade_no: str, amount_cents: int) -> bytes:
        payload = {"out_trade_no": out_trade_no, "transaction_id": "SBX" + secrets.token_hex(8),
                   "amount_cents": amount_cents}
        return json.dumps({**payload, "signature": self._sign(payload)}).encode()

    def parse_notification(self, body: bytes, headers: Mapping[str, str] | None = None) -> Notice:
        try:
            data = json.loads(body)
            payload = {k: data[k] for k in ("out_trade_no", "transaction_id", "amount_cents")}
            signature = data["signature"]
        except (ValueError, KeyError, TypeError):
            raise InvalidNotification("这不是沙箱支付通知。") from None
        if not isinstance(signature, str) or not hmac.compare_digest(signature, self._sign(payload)):
            raise InvalidNotification("通知签名不符。", code="bad_signature")
        amount = payload["amount_cents"]
        if type(amount) is not int:  # noqa: E721 - a bool or a float is not an amount of cents
            raise InvalidNotification("通知金额必须是整数分。")
        return PaymentNotice(str(payload["out_trade_no"]), str(payload["transaction_id"]), amount)

    def acknowledgement(self, ok: bool, message: str = "") -> tuple[bytes, str, int]:
        return json.dumps({"ok": ok, "message": message}, ensure_ascii=False).encode(), "application/json", 200

    # Nothing leaves the process: the ledger and the refund rows already record the money.
    def refund(self, request: RefundRequest) -> RefundState:
        return RefundState(request.out_refund_no, REFUND_SUCCEEDED, "SBXR" + secrets.token_hex(8), request.refund_cents)

    def query_refund(self, out_refund_no: str) -> RefundState:
        return RefundState(out_refund_no, REFUND_SUCCEEDED)

    def query_payment(self, out_trade_no: str) -> PaymentState:
        # the sandbox's payment page reports through a notification; a query never knows more
        return PaymentState(out_trade_no, PAYMENT_PENDING)

    def share(self, request: ShareRequest) -> ShareState:
        return ShareState(request.out_order_no, "finished", "SBXS" + secrets.token_hex(8))
