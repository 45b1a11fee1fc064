"""Idempotency keys: the same POST sent again with the same key gets the first answer.

A client that retries after a timeout cannot know whether its first request went
through; with an `Idempotency-Key` the retry is answered from here instead of
running again (a second order, a second payment). The same key with another body
is refused: it is a client bug, not a retry. Keys are kept 24 hours (the sweep).
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from core.errors import Conflict
from core.models import IdempotencyKey
from core.models._types import utcnow
from core.platform import Platform

log = logging.getLogger(__name__)

KEEP = timedelta(hours=24)


@dataclass(frozen=True)
class Replay:
    status_code: int
    content_type: str
    body: bytes


def _existing(session: Session, scope: str, key: str) -> IdempotencyKey | None:
    return session.scalar(select(IdempotencyKey).where(IdempotencyKey.scope == scope, IdempotencyKey.key == key))


def begin(platform: Platform, scope: str, key: str, fingerprint: str) -> Replay | None:
    """Claim `key` for this request (None: go ahead), or answer what its first use got."""
    try:
        with platform.transaction() as session:
            old = _existing(session, scope, key)
            if old is not None and old.created_at < utcnow() - KEEP:
                session.delete(old)  # expired: the sweep had not dropped it yet
                session.flush()
                old = None
            if old is None:
                session.add(IdempotencyKey(scope=scope, key=key, fingerprint=fingerprint))
                return None
    except IntegrityError:
        log.info("Idempotency-Key claimed by a concurrent request; answering from its record")
    with platform.transaction() as session:
        old = _existing(session, scope, key)
        if old is None:  # it failed and let go of the key in between: the client may simply retry
            raise Conflict("同一幂等键的请求刚刚失败，请稍后重试。", code="idempotency_retry",
                           details={"retry_after": 1})
        if old.fingerprint != fingerprint:
            raise Conflict("这个 Idempotency-Key 已用于另一个请求；新的请求请换一个新键。",
                           code="idempotency_key_reused")
        if old.status_code is None:
            raise Conflict("同一幂等键的请求仍在处理中，请稍后再查。", code="idempotency_in_progress",
                           details={"retry_after": 1})
        return Replay(old.status_code, old.content_type or "application/json", old.body or b"")


def finish(platform: Platform, scope: str, key: str, status_code: int, content_type: str,
           body: bytes) -> None:
    """Keep the answer for replays."""
    with platform.transaction() as session:
        row = _existing(session, scope, key)
        if row is not None:
            row.status_code, row.content_type, row.body = status_code, content_type, body


def release(platform: Platform, scope: str, key: str) -> None:
    """The request failed on our side (5xx) and changed nothing: a retry with the key may run again."""
    with platform.transaction() as session:
        session.execute(delete(IdempotencyKey).where(IdempotencyKey.scope == scope, IdempotencyKey.key == key,
                                                     IdempotencyKey.status_code.is_(None)))
