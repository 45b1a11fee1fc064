"""Which role may move an order from which state to which: the one table the order service enforces."""
from __future__ import annotations

from dataclasses import dataclass

from core.models import OrderStatus as S
from core.models import Role

LAB = frozenset({Role.lab_staff, Role.institution_admin})
OWNER = frozenset({Role.enterprise})
ADMIN = frozenset({Role.platform_admin})
SYSTEM: frozenset[Role] = frozenset()  # jobs and payment notifications, never a user


@dataclass(frozen=True)
class Move:
    sources: frozenset[S]
    target: S
    roles: frozenset[Role]


MOVES: dict[str, Move] = {
    "start_payment": Move(frozenset({S.created, S.awaiting_payment}), S.awaiting_payment, OWNER),
    "pay": Move(frozenset({S.created, S.awaiting_payment}), S.paid, SYSTEM),
    "expire": Move(frozenset({S.created, S.awaiting_payment}), S.expired, SYSTEM),
    "cancel": Move(frozenset({S.created, S.awaiting_payment, S.paid, S.accepted, S.samples_received}), S.cancelled,
                   OWNER | ADMIN),
    "accept": Move(frozenset({S.paid}), S.accepted, LAB | ADMIN),
    "reject": Move(frozenset({S.paid}), S.rejected, LAB | ADMIN),
    "receive_samples": Move(frozenset({S.accepted}), S.samples_received, LAB),
    "no_show": Move(frozenset({S.accepted}), S.no_show, LAB),
    "start_testing": Move(frozenset({S.samples_received}), S.testing, LAB),
    "issue_report": Move(frozenset({S.testing}), S.report_issued, LAB),
    "confirm": Move(frozenset({S.report_issued}), S.confirmed, OWNER),
    "auto_confirm": Move(frozenset({S.report_issued}), S.confirmed, SYSTEM),
    "dispute": Move(frozenset({S.report_issued}), S.disputed, OWNER),
    "settle": Move(frozenset({S.confirmed}), S.settled, SYSTEM),
    "resolve_release": Move(frozenset({S.disputed}), S.settled, ADMIN),
    "resolve_partial": Move(frozenset({S.disputed}), S.settled, ADMIN),
    "resolve_refund": Move(frozenset({S.disputed}), S.refunded, ADMIN),
    "group_confirm": Move(frozenset({S.paid}), S.accepted, SYSTEM),
    "group_refund": Move(frozenset({S.paid}), S.refunded, SYSTEM),
}

# the slot goes back on sale when an order ends before it is used
FREES_SLOT = frozenset({S.expired, S.cancelled, S.rejected, S.refunded})
