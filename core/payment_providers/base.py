"""What every payment provider offers the payment service.

Refunds, queries and profit sharing are per payment (one `out_trade_no`), never
per order: an order paid through two attempts is refunded through each of them.
Each refund request carries its own stable `out_refund_no`, so sending it again
after a crash or a timeout can never pay back twice.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping, Protocol, Union

from core.errors import InvalidInput


class InvalidNotification(InvalidInput):
    code = "invalid_notification"


@dataclass(frozen=True)
class PaymentNotice:
    """A provider's word that a payment succeeded, after its signature was checked."""

    out_trade_no: str
    transaction_id: str
    amount_cents: int


# what a refund is at the provider: sent and not yet final, done, or refused for good
REFUND_PROCESSING, REFUND_SUCCEEDED, REFUND_FAILED = "processing", "succeeded", "failed"


@dataclass(frozen=True)
class RefundState:
    """Where one refund stands at the provider (an answer to a refund, a query or a notification)."""

    out_refund_no: str
    status: str  # REFUND_PROCESSING | REFUND_SUCCEEDED | REFUND_FAILED
    refund_id: str | None = None  # the provider's own number for it
    amount_cents: int | None = None
    message: str = ""  # the provider's words when it failed


@dataclass(frozen=True)
class RefundNotice:
    """A provider's signed word about a refund's outcome."""

    state: RefundState
    out_trade_no: str


Notice = Union[PaymentNotice, RefundNotice]

# a payment's state when queried
PAYMENT_PAID, PAYMENT_PENDING, PAYMENT_CLOSED = "paid", "pending", "closed"


@dataclass(frozen=True)
class PaymentState:
    out_trade_no: str
    status: str  # PAYMENT_PAID | PAYMENT_PENDING (not paid yet, can still be) | PAYMENT_CLOSED (never will be)
    transaction_id: str | None = None
    amount_cents: int | None = None


@dataclass(frozen=True)
class PayRequest:
    out_trade_no: str
    amount_cents: int
    description: str
    openid: str | None
    client_ip: str
    profit_sharing: bool = False  # freeze the funds until a split (分账) releases them


@dataclass(frozen=True)
class RefundRequest:
    out_trade_no: str
    out_refund_no: str
    total_cents: int  # the payment's own total
    refund_cents: int  # this refund alone, never above what the payment can still return
    reason: str = ""


@dataclass(frozen=True)
class ShareRequest:
    """Split a frozen payment: `amount_cents` to the receiver, the rest unfrozen to the platform."""

    transaction_id: str
    out_order_no: str  # our stable number for this split
    receiver_type: str  # MERCHANT_ID | PERSONAL_OPENID
    receiver_account: str
    amount_cents: int
    description: str
    receiver_name: str = ""  # the payee's registered name, which v3 needs to add a merchant receiver


@dataclass(frozen=True)
class ShareState:
    out_order_no: str
    status: str  # "processing" | "finished"
    order_id: str | None = None  # the provider's number of the split


class PaymentProvider(Protocol):
    name: str
    supports_profit_sharing: bool

    def start(self, request: PayRequest) -> dict[str, Any]:
        """Open the payment with the provider; answer what the client needs to pay."""

    def parse_notification(self, body: bytes, headers: Mapping[str, str]) -> Notice:
        """Verify and read a payment or refund notification; InvalidNotification if it is not genuine."""

    def acknowledgement(self, ok: bool, message: str = "") -> tuple[bytes, str, int]:
        """The body, content type and HTTP status the provider expects in answer to a notification."""

    def refund(self, request: RefundRequest) -> RefundState:
        """Ask for one refund; the same out_refund_no twice refunds once. DependencyUnavailable when unreachable."""

    def query_refund(self, out_refund_no: str) -> RefundState:
        """Where a refund stands; DependencyUnavailable when the provider cannot say now."""

    def query_payment(self, out_trade_no: str) -> PaymentState:
        """Where a payment stands (used to settle an unknown state)."""

    def share(self, request: ShareRequest) -> ShareState:
        """Profit sharing: split a frozen payment and unfreeze the rest. Only if supports_profit_sharing."""
