"""hit@k and MRR of a labelled query set, for lexical, vector and hybrid modes."""
from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from typing import Iterable

from search_index.engine import SearchEngine, SearchFilters
from search_index.scoring import Tuning

MODES = ("lexical", "vector", "hybrid")


@dataclass
class LabelledQuery:
    query: str
    expected: list[str]
    kind: str = ""
    filters: SearchFilters = field(default_factory=SearchFilters)


@dataclass
class ModeScore:
    mode: str
    answerable: int = 0
    hit1: int = 0
    hit3: int = 0
    rr: float = 0.0
    unanswerable: int = 0
    silent: int = 0  # unanswerable queries that got no confident hit
    misses: list[tuple[LabelledQuery, list[str]]] = field(default_factory=list)
    by_kind: dict[str, list[float]] = field(default_factory=dict)

    @property
    def hit_at_1(self) -> float:
        return self.hit1 / self.answerable if self.answerable else 0.0

    @property
    def hit_at_3(self) -> float:
        return self.hit3 / self.answerable if self.answerable else 0.0

    @property
    def mrr(self) -> float:
        return self.rr / self.answerable if self.answerable else 0.0


def read_queries(lines: Iterable[str]) -> list[LabelledQuery]:
    out = []
    for line_no, raw in enumerate(lines, start=1):
        if not raw.strip():
            continue
        try:
            data = json.loads(raw)
            f = data.get("filters") or {}
            out.append(LabelledQuery(
                query=data["query"],
                expected=list(data.get("expected") or []),
                kind=data.get("kind", ""),
                filters=SearchFilters(
                    city=f.get("city"), category=f.get("category"),
                    max_price=f.get("max_price"), accreditation=f.get("accreditation"),
                ),
            ))
        except (ValueError, KeyError, TypeError) as exc:
            raise ValueError(f"line {line_no}: {exc}") from exc
    return out


def tuning_for(mode: str, base: Tuning) -> Tuning:
    if mode == "lexical":
        return replace(base, lexical_share=1.0)
    if mode == "vector":
        return replace(base, lexical_share=0.0)
    return base


def evaluate(engine: SearchEngine, queries: list[LabelledQuery], modes: Iterable[str] = MODES) -> list[ModeScore]:
    results = []
    for mode in modes:
        tuning = tuning_for(mode, engine.tuning)
        score = ModeScore(mode)
        for q in queries:
            hits = engine.search(q.query, limit=10, filters=q.filters, tuning=tuning).hits
            codes = [h.doc.code for h in hits]
            if not q.expected:
                score.unanswerable += 1
                score.silent += not codes
                if codes:
                    score.misses.append((q, codes[:3]))
                continue
            score.answerable += 1
            rank = next((i + 1 for i, c in enumerate(codes) if c in q.expected), None)
            rr = 1.0 / rank if rank else 0.0
            score.hit1 += rank == 1
            score.hit3 += bool(rank and rank <= 3)
            score.rr += rr
            score.by_kind.setdefault(q.kind or "-", []).append(rr)
            if not rank or rank > 3:
                score.misses.append((q, codes[:3]))
        results.append(score)
    return results
