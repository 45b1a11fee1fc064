"""An in-process provider so the whole loop runs in the demo: the 'payment page'
is an endpoint that produces a signed notification, handled like a real one."""
from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from typing import Any

from core.payment_providers.base import InvalidNotification, PaymentNotice, PayRequest


class SandboxProvider:
    name = "sandbox"

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

    def parse_notification(self, body: bytes) -> PaymentNotice:
        try:
            data = json.loads(body)
            payload = {k: data[k] for k in ("out_trade_no", "transaction_id", "amount_cents")}
            signature = data["signature"]
        except (ValueError, KeyError, TypeError):
            raise InvalidNotification("The notification is not a sandbox payment notification.") from None
        if not isinstance(signature, str) or not hmac.compare_digest(signature, self._sign(payload)):
            raise InvalidNotification("The notification's signature does not match.", code="bad_signature")
        return PaymentNotice(str(payload["out_trade_no"]), str(payload["transaction_id"]), int(payload["amount_cents"]))

    def acknowledgement(self, ok: bool, message: str = "") -> tuple[bytes, str]:
        return json.dumps({"ok": ok, "message": message}).encode(), "application/json"

    def refund(self, out_trade_no: str, total_cents: int, refund_cents: int, refund_no: str) -> None:
        """Nothing leaves the process: the ledger already records the refund."""
