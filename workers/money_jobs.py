"""Jobs that move money at the provider: refunds, their follow-up, payment queries, profit sharing.

Each runs from a row of the job outbox, so it is retried until it succeeds. The
network call happens outside any transaction (no lock is held while WeChat
thinks); what the provider answers is recorded in the next one. A refusal that
will never succeed (BusinessRuleViolation) marks the refund failed for a person
to handle instead of retrying for ever.
"""
from __future__ import annotations

from datetime import timedelta

from core.errors import BusinessRuleViolation
from core.payment_providers import get_provider
from core.platform import Platform
from core.services.orders import payments, refunds
from workers.runtime import current


def _recheck(platform: Platform) -> timedelta:
    return timedelta(seconds=platform.settings.refund_check_seconds)


def send_refund(refund_id: int) -> str:
    platform = current().platform
    with platform.transaction() as session:
        prepared = refunds.refund_request(session, refund_id)
        if prepared is None:
            return "settled"
        _, provider_name, request = prepared
    provider = get_provider(platform.settings, provider_name)
    try:
        state = provider.refund(request)
    except BusinessRuleViolation as exc:
        with platform.transaction() as session:
            refunds.fail_refund(session, refund_id, exc.message)
        return "failed"
    with platform.transaction() as session:
        return refunds.apply_refund_state(session, state, _recheck(platform))


def check_refund(refund_id: int) -> str:
    """Ask the provider where a refund it accepted stands; asks again later while it is processing."""
    platform = current().platform
    with platform.transaction(write=False) as session:
        target = refunds.refund_to_check(session, refund_id)
    if target is None:
        return "settled"
    provider_name, out_refund_no = target
    state = get_provider(platform.settings, provider_name).query_refund(out_refund_no)
    with platform.transaction() as session:
        return refunds.apply_refund_state(session, state, _recheck(platform))


def check_payment(payment_id: int) -> str:
    """Settle a payment we never heard about: paid (then applied as a notification would be) or closed."""
    platform = current().platform
    with platform.transaction(write=False) as session:
        payment = payments.payment_to_check(session, payment_id)
        if payment is None:
            return "settled"
        provider_name, out_trade_no = payment.provider, payment.out_trade_no
    state = get_provider(platform.settings, provider_name).query_payment(out_trade_no)
    with platform.transaction() as session:
        return payments.apply_payment_state(session, payment_id, state, platform.settings)


def send_profit_share(share_id: int) -> str:
    platform = current().platform
    with platform.transaction() as session:
        prepared = refunds.share_request(session, share_id)
        if prepared is None:
            return "settled"
        _, provider_name, request = prepared
    # the same out_order_no twice is one split at the provider, so a retry is safe
    try:
        state = get_provider(platform.settings, provider_name).share(request)
    except BusinessRuleViolation as exc:
        with platform.transaction() as session:
            refunds.fail_share(session, share_id, exc.message)
        return "failed"
    with platform.transaction() as session:
        status = refunds.apply_share_state(session, share_id, state)
    if status != "finished":
        raise RuntimeError(f"profit share {share_id} still processing; asked again on the next try")
    return status
