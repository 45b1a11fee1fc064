"""Property: however refunds of an order's cash come, each payment returns at most what it
took in, the payer gets back exactly what the books say, and nothing is owed twice."""
from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.services.orders.refunds import RefundExceedsPayments, allocate

amounts = st.lists(st.integers(min_value=1, max_value=10_000_000), min_size=1, max_size=4)


@given(amounts, st.data())
@settings(max_examples=300, deadline=None)
def test_successive_refunds_never_exceed_any_payment(payments: list[int], data: st.DataObject) -> None:
    refunded = [0] * len(payments)
    owed_total = 0
    while sum(refunded) < sum(payments):
        room = sum(payments) - sum(refunded)
        cents = data.draw(st.integers(min_value=1, max_value=room))
        shares = allocate([p - r for p, r in zip(payments, refunded)], cents)
        assert sum(shares) == cents and all(s >= 0 for s in shares)
        refunded = [r + s for r, s in zip(refunded, shares)]
        owed_total += cents
        assert all(r <= p for r, p in zip(refunded, payments))
    assert refunded == payments and owed_total == sum(payments)


@given(amounts, st.integers(min_value=1, max_value=1000))
def test_more_than_the_payments_took_in_is_refused_not_trimmed(payments: list[int], extra: int) -> None:
    with pytest.raises(RefundExceedsPayments):
        allocate(payments, sum(payments) + extra)
