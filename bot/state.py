"""Per-user dialogue state in Redis, forgotten after a spell of inactivity."""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field

import redis

STATE_TTL_SECONDS = 30 * 60
_KEY = "bot:dialogue:{}"


@dataclass
class DialogueState:
    query: str = ""
    city: str | None = None
    max_price: float | None = None
    max_days: int | None = None
    cheaper: bool = False
    page: int = 0
    shown: list[str] = field(default_factory=list)  # service codes on screen, in order

    @property
    def active(self) -> bool:
        return bool(self.query)


class StateStore:
    def __init__(self, conn: redis.Redis, ttl: int = STATE_TTL_SECONDS):
        self.conn = conn
        self.ttl = ttl

    def load(self, user_key: str) -> DialogueState:
        raw = self.conn.get(_KEY.format(user_key))
        if not raw:
            return DialogueState()
        try:
            return DialogueState(**json.loads(raw))
        except (ValueError, TypeError):
            return DialogueState()  # a state written by an older release: start afresh

    def save(self, user_key: str, state: DialogueState) -> None:
        self.conn.set(_KEY.format(user_key), json.dumps(asdict(state), ensure_ascii=False), ex=self.ttl)

    def clear(self, user_key: str) -> None:
        self.conn.delete(_KEY.format(user_key))
