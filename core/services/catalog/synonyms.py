"""The domain synonym dictionary, editable by platform admins."""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Iterable

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from core.errors import InvalidInput, NotFound
from core.models import Role, Synonym, User
from core.services.people.authz import require_role

MAX_TERM = 64


def _clean(term: str, expansions: Iterable[str]) -> tuple[str, list[str]]:
    key = " ".join(term.split()).lower()
    if not key or len(key) > MAX_TERM:
        raise InvalidInput(f"同义词词条须为 1 到 {MAX_TERM} 个字符。", code="invalid_synonym")
    cleaned: list[str] = []
    for e in expansions:
        e = " ".join(str(e).split())
        if e and e not in cleaned and e.lower() != key:
            cleaned.append(e)
    if not cleaned:
        raise InvalidInput(f"同义词 {term!r} 至少需要一个扩展词。", code="invalid_synonym")
    return key, cleaned


def all_synonyms(session: Session) -> dict[str, list[str]]:
    return {s.term: list(s.expansions) for s in session.scalars(select(Synonym).order_by(Synonym.term))}


def put_synonym(session: Session, actor: User, term: str, expansions: Iterable[str]) -> Synonym:
    require_role(actor, Role.platform_admin)
    key, cleaned = _clean(term, expansions)
    row = session.scalar(select(Synonym).where(Synonym.term == key))
    if row is None:
        row = Synonym(term=key, expansions=cleaned)
        session.add(row)
    elif row.expansions != cleaned:
        row.expansions = cleaned
    session.flush()
    return row


def remove_synonym(session: Session, actor: User, term: str) -> None:
    require_role(actor, Role.platform_admin)
    key = " ".join(term.split()).lower()
    if session.execute(delete(Synonym).where(Synonym.term == key)).rowcount == 0:
        raise NotFound(f"没有同义词 {term!r}。", code="synonym_not_found")
    session.flush()


@dataclass
class SynonymLoadReport:
    loaded: int
    rejected: list[tuple[int, str]]


def load_synonyms(session: Session, actor: User, lines: Iterable[str]) -> SynonymLoadReport:
    """Upsert {"term": …, "expansions": […]} lines; bad lines are reported, not written."""
    require_role(actor, Role.platform_admin)
    loaded, rejected = 0, []
    for line_no, raw in enumerate(lines, start=1):
        if not raw.strip():
            continue
        try:
            data = json.loads(raw)
            if not isinstance(data, dict) or not isinstance(data.get("expansions"), list):
                raise ValueError('expected {"term": "…", "expansions": ["…"]}')
            put_synonym(session, actor, str(data.get("term", "")), data["expansions"])
            loaded += 1
        except (ValueError, InvalidInput) as exc:
            rejected.append((line_no, getattr(exc, "message", str(exc))))
    return SynonymLoadReport(loaded, rejected)
