"""The search engine of one process: loads the current index version, follows
new versions without a restart, and answers queries."""
from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Mapping

import faiss
import numpy as np

from core.errors import DependencyUnavailable, InvalidInput
from search_index.documents import IndexDoc
from search_index.encoders import Encoder
from search_index.intent import out_of_scope
from search_index.scoring import Bm25, Tuning, top_k
from search_index.segment import IndexCorrupt, Segment
from search_index.store import IndexMissing, IndexStore, Manifest
from search_index.synonyms import Expansion, SynonymTable
from search_index.text import normalise, terms
from search_index.text import words as text_words

log = logging.getLogger(__name__)

REBUILD_HINT = "请运行 `flask search reindex` 建立索引。"
SYNONYM_REFRESH_SECONDS = 5.0
MAX_QUERY_CHARS = 500


@dataclass(frozen=True)
class SearchFilters:
    city: str | None = None
    category: str | None = None
    max_price: float | None = None
    accreditation: str | None = None


@dataclass
class SearchHit:
    doc: IndexDoc
    score: float
    why: list[str]
    lexical: float
    cosine: float


@dataclass
class SearchResult:
    query: str
    hits: list[SearchHit]
    expansions: list[Expansion] = field(default_factory=list)
    version: str = ""


@dataclass
class QueryPlan:
    own_words: list[str]  # the user's words, longest first
    phrases: list[tuple[str, list[str]]]  # candidates for "why" with their terms
    # per synonym entry that fired: the user's words it stands for, and its phrases
    expansions: list[tuple[set[str], list[tuple[str, list[str]]]]]
    out_of_scope: bool = False


@dataclass
class LoadedIndex:
    manifest: Manifest
    segments: list[Segment]
    alive: list[np.ndarray]
    bm25: Bm25
    live_docs: int
    cities: frozenset[str]
    categories: frozenset[str]
    accreditations: frozenset[str]

    @classmethod
    def build(cls, manifest: Manifest, segments: list[Segment], tuning: Tuning) -> "LoadedIndex":
        alive = []
        for seg in segments:
            dead = set(manifest.tombstones.get(seg.seg_id, []))
            alive.append(np.array([int(i) not in dead for i in seg.ids], dtype=bool) if dead else np.ones(len(seg), bool))
        # the filter vocabularies of live listings, for telling a user which values exist
        def labels(values: Callable[[Segment], list[str]], codes: Callable[[Segment], np.ndarray]) -> frozenset[str]:
            return frozenset(
                values(seg)[c] for seg, a in zip(segments, alive) for c in np.unique(codes(seg)[a]) if values(seg)[c]
            )

        return cls(
            manifest=manifest,
            segments=segments,
            alive=alive,
            bm25=Bm25(segments, alive, tuning),
            live_docs=sum(int(a.sum()) for a in alive),
            cities=labels(lambda s: s.cities, lambda s: s.city_codes),
            categories=labels(lambda s: s.categories, lambda s: s.category_codes),
            accreditations=frozenset(
                acc for seg, a in zip(segments, alive) for acc, rows in seg.accreditation_rows.items() if a[rows].any()
            ),
        )


class SearchEngine:
    def __init__(
        self,
        store: IndexStore,
        encoder_factory: Callable[[], Encoder],
        synonyms_loader: Callable[[], Mapping[str, list[str]]] | None = None,
        tuning: Tuning | None = None,
        ratings_loader: Callable[[], Mapping[str, tuple[float, int]]] | None = None,
    ):
        self.store = store
        self._encoder_factory = encoder_factory
        self._encoder: Encoder | None = None
        self._synonyms_loader = synonyms_loader
        self._synonyms = SynonymTable({})
        self._synonyms_at = 0.0
        self._ratings_loader = ratings_loader
        self._ratings: Mapping[str, tuple[float, int]] = {}
        self._ratings_at = 0.0
        self.tuning = tuning or Tuning()
        self._loaded: LoadedIndex | None = None
        self._stamp: tuple[int, int] | None = None
        self._segment_cache: dict[str, Segment] = {}
        self._lock = threading.Lock()

    # ---- lifecycle ------------------------------------------------------
    @property
    def encoder(self) -> Encoder:
        if self._encoder is None:
            self._encoder = self._encoder_factory()
        return self._encoder

    def warm(self) -> None:
        """Load the model and the index now rather than on the first query."""
        self.encoder.encode(["预热"])
        self.index()

    def index(self) -> LoadedIndex:
        """The current version, reloaded when CURRENT has changed since last look."""
        stamp = self.store.current_stamp()
        if self._loaded is not None and stamp == self._stamp:
            return self._loaded
        with self._lock:
            stamp = self.store.current_stamp()
            if self._loaded is None or stamp != self._stamp:
                self._load(stamp)
        assert self._loaded is not None
        return self._loaded

    def _load(self, stamp: tuple[int, int] | None) -> None:
        try:
            manifest = self.store.current_manifest()
            if manifest.model != self.encoder.name:
                raise IndexCorrupt(
                    f"索引由模型 {manifest.model!r} 建立，但 SEARCH_MODEL 为 {self.encoder.name!r}"
                )
            segments = [
                self._segment_cache.get(seg_id) or Segment.load(self.store.segments_dir, seg_id)
                for seg_id in manifest.segments
            ]
        except IndexMissing:
            raise DependencyUnavailable(
                f"搜索索引尚未建立。{REBUILD_HINT}", code="search_index_missing"
            ) from None
        except IndexCorrupt as exc:
            if self._loaded is not None:
                # keep serving the version we have rather than failing every query
                log.error("search index version cannot be loaded, still serving %s: %s", self._loaded.manifest.version, exc)
                self._stamp = stamp
                return
            raise DependencyUnavailable(
                f"搜索索引无法读取（{exc}）。{REBUILD_HINT}", code="search_index_corrupt"
            ) from None
        self._segment_cache = {s.seg_id: s for s in segments}
        self._loaded = LoadedIndex.build(manifest, segments, self.tuning)
        self._stamp = stamp
        log.info("search index %s loaded: %d listings", manifest.version, self._loaded.live_docs)

    def synonyms(self) -> SynonymTable:
        now = time.monotonic()
        if self._synonyms_loader is not None and now - self._synonyms_at > SYNONYM_REFRESH_SECONDS:
            self._synonyms = SynonymTable(self._synonyms_loader())
            self._synonyms_at = now
        return self._synonyms

    def ratings(self) -> Mapping[str, tuple[float, int]]:
        """Service code -> (average stars, count), refreshed like the synonyms."""
        now = time.monotonic()
        if self._ratings_loader is not None and now - self._ratings_at > SYNONYM_REFRESH_SECONDS:
            self._ratings = self._ratings_loader()
            self._ratings_at = now
        return self._ratings

    def _rating_factor(self, code: str, tuning: Tuning) -> float:
        average, count = self.ratings().get(code, (3.0, 0))
        return 1.0 + tuning.rating_weight * (average - 3.0) / 2.0 * min(count, 10) / 10.0

    # ---- querying -------------------------------------------------------
    def unknown_filter_values(self, f: SearchFilters) -> dict[str, list[str]]:
        """For each filter whose value no live listing has, the values that exist."""
        loaded = self.index()
        unknown: dict[str, list[str]] = {}
        if f.city and f.city not in loaded.cities:
            unknown["city"] = sorted(loaded.cities)
        if f.category and not any(c == f.category or c.startswith(f.category + "/") for c in loaded.categories):
            unknown["category"] = sorted({c.split("/")[0] for c in loaded.categories})
        if f.accreditation and f.accreditation.upper() not in {a.upper() for a in loaded.accreditations}:
            unknown["accreditation"] = sorted(loaded.accreditations)
        return unknown

    def search(
        self, query: str, limit: int = 10, filters: SearchFilters | None = None, tuning: Tuning | None = None,
        synonyms: SynonymTable | None = None,
    ) -> SearchResult:
        """`synonyms` replaces the dictionary for this query only (the console's try box compares an
        edit with the saved dictionary before it is saved)."""
        if not query or not query.strip():
            raise InvalidInput("请说明您要检测什么：搜索内容为空。", code="invalid_query")
        if len(query) > MAX_QUERY_CHARS:
            raise InvalidInput(f"搜索内容超过 {MAX_QUERY_CHARS} 个字符。", code="invalid_query")
        tuning = tuning or self.tuning
        filters = filters or SearchFilters()
        loaded = self.index()
        norm = normalise(query)
        expansions = (synonyms if synonyms is not None else self.synonyms()).expand(norm)
        qterms = self._query_terms(norm, expansions, tuning)
        qvec = self._query_vector(query, expansions) if tuning.lexical_share < 1.0 else None

        cand_docs: list[tuple[int, int]] = []  # (segment number, row)
        lex_parts: list[np.ndarray] = []
        cos_parts: list[np.ndarray] = []
        for seg_no, seg in enumerate(loaded.segments):
            mask = loaded.alive[seg_no] & self._filter_mask(seg, filters)
            if not mask.any():
                continue
            lex = loaded.bm25.score(seg_no, seg, qterms) if tuning.lexical_share > 0 else np.zeros(len(seg), np.float32)
            rows = set(top_k(lex, mask, tuning.candidates).tolist())
            if qvec is not None:
                rows |= self._vector_candidates(seg, qvec, mask, tuning)
            if not rows:
                continue
            ordered = np.fromiter(sorted(rows), dtype=np.int64)
            cand_docs.extend((seg_no, int(r)) for r in ordered)
            lex_parts.append(lex[ordered])
            cos_parts.append(
                np.asarray(seg.vectors[ordered] @ qvec, dtype=np.float32) if qvec is not None else np.zeros(len(ordered), np.float32)
            )
        if not cand_docs:
            return SearchResult(query, [], expansions, loaded.manifest.version)

        lex_all = np.concatenate(lex_parts)
        cos_all = np.concatenate(cos_parts)
        fused = self._fuse(lex_all, cos_all, tuning)
        order = np.argsort(-fused, kind="stable")[: max(limit, tuning.confidence_depth)]
        plan = self._plan(norm, expansions, loaded)
        scored = []
        for i in order:
            seg_no, row = cand_docs[i]
            why, coverage = self._why(loaded, loaded.segments[seg_no], row, qterms, plan)
            scored.append((i, why, coverage))
        top = scored[: tuning.confidence_depth]
        if plan.out_of_scope or not any(self._confident(float(cos_all[i]), cov, tuning) for i, _, cov in top):
            return SearchResult(query, [], expansions, loaded.manifest.version)
        best = float(fused[order[0]])
        hits = []
        for i, why, _ in scored[:limit]:
            if fused[i] < tuning.relative_cutoff * best:
                break
            seg_no, row = cand_docs[i]
            doc = loaded.segments[seg_no].doc(row)
            score = float(fused[i]) * self._rating_factor(doc.code, tuning)
            hits.append(SearchHit(doc, round(score, 4), why, float(lex_all[i]), float(cos_all[i])))
        hits.sort(key=lambda h: -h.score)
        return SearchResult(query, hits, expansions, loaded.manifest.version)

    def _query_terms(self, norm: str, expansions: list[Expansion], tuning: Tuning) -> dict[str, float]:
        weights: dict[str, float] = {}

        def add(text: str, factor: float) -> None:
            for term in terms(text):
                w = tuning.kind_weight[term[0]] * factor
                weights[term] = max(weights.get(term, 0.0), w)

        add(norm, 1.0)
        for exp in expansions:
            for phrase in exp.expansions:
                add(phrase, tuning.expansion_weight)
        return weights

    def _query_vector(self, query: str, expansions: list[Expansion]) -> np.ndarray:
        texts = [query]
        if expansions:
            texts.append(query + " " + " ".join(p for e in expansions for p in e.expansions[:4]))
        vecs = self.encoder.encode(texts)
        v = vecs.sum(axis=0)
        return (v / (np.linalg.norm(v) or 1.0)).astype(np.float32)

    @staticmethod
    def _plan(norm: str, expansions: list[Expansion], loaded: LoadedIndex) -> "QueryPlan":
        own = sorted(set(text_words(norm)), key=len, reverse=True)
        shown = [w for w in own if len(w) > 1 or len(norm.strip()) == 1]
        phrases = [(w, [f"w:{w}"]) for w in shown]
        groups: list[tuple[set[str], list[tuple[str, list[str]]]]] = []
        for e in expansions:
            group = [(p, [f"w:{w}" for w in text_words(normalise(p))]) for p in e.expansions]
            phrases.extend(group)
            # a matched synonym covers the user's words it stands for (瘦肉精 covers 瘦肉, 瘦肉精)
            groups.append(({w for w in own if w in e.term or e.term in w}, group))
        return QueryPlan(own, phrases, groups, out_of_scope(norm, loaded.bm25.df))

    @staticmethod
    def _filter_mask(seg: Segment, f: SearchFilters) -> np.ndarray:
        mask = np.ones(len(seg), dtype=bool)
        if f.city:
            mask &= seg.city_mask(f.city)
        if f.max_price is not None:
            mask &= seg.price <= f.max_price
        if f.category:
            mask &= seg.category_mask(f.category)
        if f.accreditation:
            mask &= seg.accreditation_mask(f.accreditation)
        return mask

    @staticmethod
    def _vector_candidates(seg: Segment, qvec: np.ndarray, mask: np.ndarray, tuning: Tuning) -> set[int]:
        k = min(tuning.candidates, len(seg))
        selector = None
        if not mask.all():
            bitmap = np.packbits(mask, bitorder="little")
            selector = faiss.IDSelectorBitmap(len(mask), faiss.swig_ptr(bitmap))
        if isinstance(seg.vindex, faiss.IndexIVF):
            params: faiss.SearchParameters = faiss.SearchParametersIVF(nprobe=tuning.nprobe, sel=selector)
        else:
            params = faiss.SearchParameters(sel=selector)
        _, ids = seg.vindex.search(qvec[None, :], k, params=params)
        return {int(i) for i in ids[0] if i >= 0}

    @staticmethod
    def _fuse(lex: np.ndarray, cos: np.ndarray, tuning: Tuning) -> np.ndarray:
        top_lex = float(lex.max())
        lex_norm = lex / top_lex if top_lex > 0 else lex
        cos_norm = np.clip(cos, 0.0, 1.0)
        top_cos = float(cos_norm.max())
        cos_norm = cos_norm / top_cos if top_cos > 0 else cos_norm
        # scale by the best absolute cosine so a query that matches nothing well scores low
        a = tuning.lexical_share
        return a * lex_norm + (1 - a) * cos_norm * min(1.0, top_cos / 0.6)

    @staticmethod
    def _why(loaded: LoadedIndex, seg: Segment, row: int, qterms: dict[str, float], plan: "QueryPlan") -> tuple[list[str], float]:
        """Words of the query and synonym phrases found in the listing, and the
        share of the query's meaning (IDF-weighted own words) the listing covers."""
        matched = {t for t in qterms if t.startswith("w:") and Bm25.contains(seg, row, t)}
        why: list[str] = []
        for phrase, words in plan.phrases:
            # the user's own word wins over a longer synonym that contains it
            if words and all(w in matched for w in words) and not any(phrase in w or w in phrase for w in why):
                why.append(phrase)
        covered = set()
        for word in plan.own_words:
            if f"w:{word}" in matched:
                covered.add(word)
        for stands_for, group in plan.expansions:
            if any(ws and all(w in matched for w in ws) for _, ws in group):
                covered.update(stands_for)
        # words no listing contains and no synonym explains (喝, 直接) cannot be
        # covered by anything: leave them out of the total
        counted = [w for w in plan.own_words if w in covered or loaded.bm25.df(f"w:{w}")]
        total = sum(loaded.bm25.idf(f"w:{w}") for w in counted)
        share = sum(loaded.bm25.idf(f"w:{w}") for w in covered) / total if total else 0.0
        return why[:5], share

    @staticmethod
    def _confident(cosine: float, coverage: float, tuning: Tuning) -> bool:
        """Is this candidate a real answer? Either side may vouch for it."""
        return coverage >= tuning.min_coverage or cosine >= tuning.min_cosine
