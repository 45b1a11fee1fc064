"""Unmet needs grouped by meaning, for the platform staff: which needs come back most, in which
words, and which of them the platform will never serve.

"Out of scope" is kept in Redis (a hash of query text -> who and when), not in the database:
unmet_demands has no status column and this work adds no migration. It is a reversible display
preference, not a record anything else depends on; if Redis is emptied, the hidden needs simply
show again. A group is hidden when its leading query is close in meaning to a hidden one, so new
wordings of a need already judged out of scope stay hidden too."""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Callable, Sequence

import numpy as np
import redis
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.models import Role, UnmetDemand, User
from core.models._types import utcnow
from core.services.people.authz import require_role

OUT_OF_SCOPE_KEY = "unmet:out_of_scope"
SIMILARITY = 0.7  # cosine of two queries' sentence vectors for "the same need"
MAX_QUERIES = 400  # distinct queries grouped per page view (most asked first)
EXAMPLES = 5

Encode = Callable[[Sequence[str]], np.ndarray]  # L2-normalised rows, as search_index's encoders give
Words = Callable[[str], list[str]]


@dataclass(frozen=True)
class UnmetQuery:
    text: str
    count: int
    last_seen: datetime
    cities: tuple[str, ...] = ()


@dataclass
class UnmetGroup:
    leader: UnmetQuery
    queries: list[UnmetQuery] = field(default_factory=list)
    words: list[str] = field(default_factory=list)

    @property
    def count(self) -> int:
        return sum(q.count for q in self.queries)

    @property
    def last_seen(self) -> datetime:
        return max(q.last_seen for q in self.queries)

    @property
    def examples(self) -> list[UnmetQuery]:
        return self.queries[:EXAMPLES]


def unmet_queries(session: Session, days: int = 90, limit: int = MAX_QUERIES) -> list[UnmetQuery]:
    """Distinct unmet queries of the last `days`, most asked first."""
    since = utcnow() - timedelta(days=days)
    rows = session.execute(
        select(UnmetDemand.query, func.count(UnmetDemand.id), func.max(UnmetDemand.created_at))
        .where(UnmetDemand.created_at >= since).group_by(UnmetDemand.query)
        .order_by(func.count(UnmetDemand.id).desc(), func.max(UnmetDemand.created_at).desc()).limit(limit)).all()
    cities: dict[str, set[str]] = {}
    texts = [q for q, _, _ in rows]
    for query, city in session.execute(select(UnmetDemand.query, UnmetDemand.city).distinct()
                                       .where(UnmetDemand.query.in_(texts), UnmetDemand.city.is_not(None),
                                              UnmetDemand.created_at >= since)):
        cities.setdefault(query, set()).add(city)
    return [UnmetQuery(q, int(n), _aware(last), tuple(sorted(cities.get(q, ())))) for q, n, last in rows]


def _aware(moment: datetime) -> datetime:
    # an aggregate may come back naive on SQLite: stored times are UTC
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def group_queries(queries: list[UnmetQuery], encode: Encode, words: Words, hidden: Sequence[str] = (),
                  threshold: float = SIMILARITY) -> list[UnmetGroup]:
    """Greedy grouping, most asked first: a query joins the first group whose leader is at least
    `threshold` similar, else leads a new group. Groups close to a hidden query are left out."""
    if not queries:
        return []
    vectors = encode([q.text for q in queries])
    hidden_vectors = encode(list(hidden)) if hidden else np.zeros((0, vectors.shape[1]), np.float32)
    hidden_set = set(hidden)
    groups: list[UnmetGroup] = []
    leaders: list[np.ndarray] = []
    for query, vector in zip(queries, vectors):
        scores = np.array([float(lv @ vector) for lv in leaders])
        best = int(scores.argmax()) if len(scores) else -1
        if best >= 0 and scores[best] >= threshold:
            groups[best].queries.append(query)
        else:
            groups.append(UnmetGroup(query, [query]))
            leaders.append(vector)
    shown = []
    for group, leader in zip(groups, leaders):
        if group.leader.text in hidden_set or (len(hidden_vectors) and float((hidden_vectors @ leader).max()) >= threshold):
            continue
        group.words = _common_words(group.queries, words)
        shown.append(group)
    return sorted(shown, key=lambda g: (-g.count, -g.last_seen.timestamp()))


def _common_words(queries: list[UnmetQuery], words: Words, top: int = 4) -> list[str]:
    """The group's words, most asked first (weighted by how often each query came)."""
    weight: dict[str, int] = {}
    for q in queries:
        for w in dict.fromkeys(words(q.text)):
            if len(w) > 1:
                weight[w] = weight.get(w, 0) + q.count
    ranked = sorted(weight.items(), key=lambda kv: (-kv[1], -len(kv[0]), kv[0]))
    return [w for w, _ in ranked[:top]]


def hidden_queries(conn: redis.Redis) -> dict[str, dict[str, str]]:
    """Query text -> {"by", "at"} of the needs marked out of scope."""
    out = {}
    for text, raw in conn.hgetall(OUT_OF_SCOPE_KEY).items():
        key = text.decode() if isinstance(text, bytes) else text
        try:
            out[key] = json.loads(raw)
        except ValueError:
            out[key] = {}
    return out


def mark_out_of_scope(conn: redis.Redis, actor: User, texts: Sequence[str]) -> int:
    """Hide needs the platform will not serve (not a test, a service nobody offers on purpose)."""
    require_role(actor, Role.platform_admin)
    record = json.dumps({"by": actor.display_name, "at": utcnow().isoformat()}, ensure_ascii=False)
    texts = [t for t in dict.fromkeys(t.strip() for t in texts) if t]
    if texts:
        conn.hset(OUT_OF_SCOPE_KEY, mapping={t: record for t in texts})
    return len(texts)


def restore_in_scope(conn: redis.Redis, actor: User, text: str) -> bool:
    require_role(actor, Role.platform_admin)
    return bool(conn.hdel(OUT_OF_SCOPE_KEY, text))
