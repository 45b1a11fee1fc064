"""What the ingestion counts, and the log of what it drops: once per kind and source, so that a
sensor sending garbage all day fills neither the log nor memory."""
from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, field

from iot.payloads import Rejection

log = logging.getLogger("iot.ingest")  # the ingestion's own log: operators filter on it
MAX_LOGGED_SOURCES = 10_000  # "logged once per kind and source" must not grow without end


@dataclass
class IngestStats:
    messages: int = 0
    batches: int = 0
    changes: int = 0
    amendments: int = 0
    db_errors: int = 0
    redis_errors: int = 0
    rejected: Counter[str] = field(default_factory=Counter)  # dropped, by Rejection.kind or "error" (a bug hit)
    malformed: Counter[str] = field(default_factory=Counter)  # the "malformed" ones by reason
    connects: int = 0
    first_message_at: float | None = None
    last_batch_at: float | None = None
    logged: set[tuple[str, str]] = field(default_factory=set, repr=False)

    def reject(self, rejection: Rejection, retained: bool = False) -> None:
        self.rejected[rejection.kind] += 1
        if rejection.reason:
            self.malformed[rejection.reason] += 1
        if self._first_of(rejection.reason or rejection.kind, rejection.source):
            what = f"{rejection.kind} ({rejection.reason})" if rejection.reason else rejection.kind
            # a retained message comes back on every (re)connection until someone clears it
            hint = "; it is retained: an empty retained message on its topic clears it" if retained else ""
            log.warning("dropped %s message from %s: %s%s (further ones from it are only counted)",
                        what, rejection.source, rejection.detail, hint)

    def failed(self, topic: str, exc: Exception) -> None:
        """A bug of ours hit by one message: counted as "error" and logged with its traceback once."""
        self.rejected["error"] += 1
        if self._first_of(f"error {type(exc).__name__}", topic):
            log.error("dropped a message on %s: handling it raised (further ones only counted)", topic, exc_info=exc)

    def _first_of(self, kind: str, source: str) -> bool:
        if (kind, source) in self.logged or len(self.logged) >= MAX_LOGGED_SOURCES:
            return False
        self.logged.add((kind, source))
        return True
