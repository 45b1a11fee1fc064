"""What every payment provider offers the payment service."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from core.errors import InvalidInput


class InvalidNotification(InvalidInput):
    code = "invalid_notification"


@dataclass(frozen=True)
class PaymentNotice:
    """A provider's word that a payment succeeded, after its signature was checked."""

    out_trade_no: str
    transaction_id: str
    amount_cents: int


@dataclass(frozen=True)
class PayRequest:
    out_trade_no: str
    amount_cents: int
    description: str
    openid: str | None
    client_ip: str


class PaymentProvider(Protocol):
    name: str

    def start(self, request: PayRequest) -> dict[str, Any]:
        """Open the payment with the provider; answer what the client needs to pay."""

    def parse_notification(self, body: bytes) -> PaymentNotice:
        """Verify and read a payment notification; InvalidNotification if it is not genuine."""

    def acknowledgement(self, ok: bool, message: str = "") -> tuple[bytes, str]:
        """The response body and content type the provider expects to a notification."""

    def refund(self, out_trade_no: str, total_cents: int, refund_cents: int, refund_no: str) -> None:
        """Give `refund_cents` back; the same refund_no twice refunds once."""
