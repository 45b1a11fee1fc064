"""The lab's to-do list: what an institution's staff must act on now, counted from the orders themselves
(not from notifications), so staff created after an order was paid still see it."""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.models import Order, OrderStatus

# (key, Chinese label, the statuses that put an order on this list)
TODO_GROUPS: tuple[tuple[str, str, tuple[OrderStatus, ...]], ...] = (
    ("to_accept", "待受理", (OrderStatus.paid,)),
    ("samples_due", "待收样", (OrderStatus.accepted,)),
    ("testing", "检测中", (OrderStatus.samples_received, OrderStatus.testing)),
    ("disputes", "纠纷待处理", (OrderStatus.disputed,)),
)


@dataclass(frozen=True)
class TodoCount:
    key: str
    label: str
    count: int
    statuses: tuple[str, ...]


def lab_todos(session: Session, institution_id: int) -> list[TodoCount]:
    rows = dict(session.execute(select(Order.status, func.count()).where(Order.institution_id == institution_id)
                                .group_by(Order.status)).all())
    return [TodoCount(key, label, sum(rows.get(s, 0) for s in statuses), tuple(s.value for s in statuses))
            for key, label, statuses in TODO_GROUPS]
