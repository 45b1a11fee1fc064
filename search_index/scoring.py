"""Scoring over loaded segments: BM25 with global statistics, cosine, fusion."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy import sparse

from search_index.segment import Segment


@dataclass(frozen=True)
class Tuning:
    k1: float = 1.2
    b: float = 0.5
    # weight of a query term by kind: words carry meaning, character grams catch typos
    kind_weight: dict[str, float] = field(default_factory=lambda: {"w": 1.0, "b": 0.3, "u": 0.08})
    expansion_weight: float = 0.5
    lexical_share: float = 0.4  # 1.0 = lexical only, 0.0 = vector only
    candidates: int = 200
    nprobe: int = 32
    # A query has an answer when one of its best candidates covers a quarter of
    # the user's words (IDF-weighted, synonyms included) or is close in meaning.
    # Set on the development set and checked on a catalog written blind to it.
    confidence_depth: int = 5
    min_coverage: float = 0.25
    min_cosine: float = 0.35
    # below this share of the best fused score a hit is noise, not a recommendation
    relative_cutoff: float = 0.3
    # users' ratings nudge, never decide: a 5-star service with 10+ ratings gains this share of its score
    rating_weight: float = 0.05


class Bm25:
    """Per-segment saturated term frequencies and global IDF, recomputed on load."""

    def __init__(self, segments: list[Segment], alive: list[np.ndarray], tuning: Tuning):
        live_docs = sum(int(a.sum()) for a in alive) or 1
        total_len = sum(float(s.doc_len[a].sum()) for s, a in zip(segments, alive))
        avgdl = total_len / live_docs if total_len else 1.0
        self.n = live_docs
        # document frequencies stay per segment (an array over its vocabulary):
        # one merged dict of every term would cost hundreds of MB at 200k listings
        self._segments = segments
        self._df = [np.diff(seg.tf.indptr) for seg in segments]
        self.weights: list[sparse.csc_matrix] = []
        k1, b = tuning.k1, tuning.b
        for seg in segments:
            tf = seg.tf
            norm = k1 * (1.0 - b + b * seg.doc_len[tf.indices] / avgdl)
            data = (tf.data * (k1 + 1.0) / (tf.data + norm)).astype(np.float32)
            # same sparsity as tf: share its index arrays, only the values are new
            self.weights.append(sparse.csc_matrix((data, tf.indices, tf.indptr), shape=tf.shape, copy=False))

    def df(self, term: str) -> int:
        total = 0
        for seg, df in zip(self._segments, self._df):
            col = seg.vocab.get(term)
            if col is not None:
                total += int(df[col])
        return total

    def idf(self, term: str) -> float:
        df = self.df(term)
        return float(np.log(1.0 + (self.n - df + 0.5) / (df + 0.5)))

    def score(self, seg_no: int, seg: Segment, query: dict[str, float]) -> np.ndarray:
        scores = np.zeros(len(seg), dtype=np.float32)
        w = self.weights[seg_no]
        for term, qw in query.items():
            col = seg.vocab.get(term)
            if col is None:
                continue
            start, end = w.indptr[col], w.indptr[col + 1]
            scores[w.indices[start:end]] += qw * self.idf(term) * w.data[start:end]
        return scores

    @staticmethod
    def contains(seg: Segment, row: int, term: str) -> bool:
        col = seg.vocab.get(term)
        if col is None:
            return False
        start, end = seg.tf.indptr[col], seg.tf.indptr[col + 1]
        rows = seg.tf.indices[start:end]
        i = np.searchsorted(rows, row)
        return bool(i < len(rows) and rows[i] == row)


def top_k(scores: np.ndarray, mask: np.ndarray, k: int) -> np.ndarray:
    """Rows of the k highest positive scores among the masked rows."""
    eligible = np.flatnonzero(mask & (scores > 0))
    if len(eligible) > k:
        eligible = eligible[np.argpartition(-scores[eligible], k - 1)[:k]]
    return eligible
