"""Query-time expansion of lay words into the technical words labs write."""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Iterable, Mapping

from search_index.text import normalise

_ASCII_RE = re.compile(r"^[a-z0-9 .\-+/]+$")


@dataclass(frozen=True)
class Expansion:
    term: str
    expansions: tuple[str, ...]


class SynonymTable:
    def __init__(self, entries: Mapping[str, Iterable[str]]):
        self._entries: list[tuple[str, tuple[str, ...], re.Pattern[str] | None]] = []
        for term, expansions in entries.items():
            key = normalise(term).strip()
            if not key:
                continue
            # a Latin term must match a whole word ("sem" is not in "semiconductor"), plurals too
            pattern = re.compile(rf"(?<![a-z0-9]){re.escape(key)}(?:e?s)?(?![a-z0-9])") if _ASCII_RE.match(key) else None
            self._entries.append((key, tuple(e for e in expansions if e.strip()), pattern))
        # longest first, so 室内空气 wins over 空气 when both are entries
        self._entries.sort(key=lambda e: -len(e[0]))

    def __len__(self) -> int:
        return len(self._entries)

    def expand(self, normalised_query: str) -> list[Expansion]:
        found: list[Expansion] = []
        covered = normalised_query
        for key, expansions, pattern in self._entries:
            hit = pattern.search(covered) if pattern else key in covered
            if hit:
                found.append(Expansion(key, expansions))
                # blank out the match so a shorter entry inside it does not fire again
                covered = covered.replace(key, " " * len(key))
        return found
