"""RQ jobs. They take ids or nothing, never ORM objects, and let failures
reach the queue (RQ records them in the failed registry)."""
from __future__ import annotations

import logging

from core.db import unit_of_work
from search_index.builder import sync_changes
from workers.runtime import current

log = logging.getLogger(__name__)


def sync_search_index() -> str | None:
    """Apply the outbox of changed listings to the index; returns the new version."""
    rt = current()
    with unit_of_work(rt.platform.session_factory) as session:
        report = sync_changes(session, rt.search.store, rt.search.encoder)
    if report.version:
        log.info("search index %s: %d listings changed", report.version, report.changed)
    return report.version


def send_wechat_text(openid: str, text: str) -> None:
    """Deliver a bot answer that was not ready within WeChat's passive-reply window."""
    from core.wechat_client import official_account_client

    rt = current()
    official_account_client(rt.platform.settings, rt.platform.redis).message.send_text(openid, text)
