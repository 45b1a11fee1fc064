"""An immutable slice of the index: documents, term frequencies and vectors.

A full build writes one segment; an incremental update writes a small one on
top and tombstones the older copies, so nothing is re-encoded twice.
"""
from __future__ import annotations

import hashlib
import json
import os
import uuid
from array import array
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import faiss
import numpy as np
from scipy import sparse

from search_index.documents import IndexDoc
from search_index.text import weighted_terms

# Below this many vectors an exact flat index is both fastest and exact; above
# it an IVF index with 8-bit codes keeps p95 and memory in bounds (bench/search_bench.py).
APPROXIMATE_ABOVE = 50_000
_FILES = ("docs.json", "vocab.json", "tf.npz", "vectors.npy", "vectors.faiss")


class IndexCorrupt(Exception):
    """A segment or manifest on disk cannot be read or fails its checksum."""


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _vector_index(vectors: np.ndarray) -> faiss.Index:
    n, dim = vectors.shape
    if n <= APPROXIMATE_ABOVE:
        index = faiss.IndexFlatIP(dim)
    else:
        nlist = int(4 * np.sqrt(n))
        quantizer = faiss.IndexFlatIP(dim)
        index = faiss.IndexIVFScalarQuantizer(quantizer, dim, nlist, faiss.ScalarQuantizer.QT_8bit, faiss.METRIC_INNER_PRODUCT)
        rng = np.random.default_rng(0)
        sample = vectors[rng.choice(n, size=min(n, 64 * nlist), replace=False)]
        index.train(sample)
    index.add(vectors)
    return index


@dataclass
class Segment:
    seg_id: str
    docs: list[IndexDoc]
    vocab: dict[str, int]
    tf: sparse.csc_matrix  # docs x terms, raw term frequencies
    vectors: np.ndarray  # docs x dim, L2-normalised
    vindex: faiss.Index
    doc_len: np.ndarray = field(init=False)
    ids: np.ndarray = field(init=False)
    price: np.ndarray = field(init=False)
    city: np.ndarray = field(init=False)
    category: np.ndarray = field(init=False)
    _masks: dict[tuple[str, str], np.ndarray] = field(init=False, default_factory=dict)

    def __post_init__(self) -> None:
        self.tf.sort_indices()  # Bm25.contains bisects each column
        self.doc_len = np.asarray(self.tf.sum(axis=1)).ravel().astype(np.float32)
        self.ids = np.array([d.id for d in self.docs], dtype=np.int64)
        self.price = np.array([d.price_cny for d in self.docs], dtype=np.float64)
        self.city = np.array([d.city for d in self.docs], dtype=object)
        self.category = np.array([d.category for d in self.docs], dtype=object)

    def __len__(self) -> int:
        return len(self.docs)

    # Filter masks are computed once per value: there are few categories and
    # accreditations, and a Python loop over 200k listings per query is not free.
    def category_mask(self, category: str) -> np.ndarray:
        key = ("category", category)
        if key not in self._masks:
            prefix = category + "/"
            self._masks[key] = np.array([c == category or c.startswith(prefix) for c in self.category], dtype=bool)
        return self._masks[key]

    def accreditation_mask(self, accreditation: str) -> np.ndarray:
        want = accreditation.upper()
        key = ("accreditation", want)
        if key not in self._masks:
            self._masks[key] = np.array([want in {a.upper() for a in d.accreditations} for d in self.docs], dtype=bool)
        return self._masks[key]

    def document_frequencies(self) -> dict[str, int]:
        df = np.diff(self.tf.indptr)
        return {term: int(df[col]) for term, col in self.vocab.items()}

    # ---- building -------------------------------------------------------
    @classmethod
    def build(cls, docs: Sequence[IndexDoc], vectors: np.ndarray) -> "Segment":
        vocab: dict[str, int] = {}
        # typed arrays: 12 bytes a posting instead of ~100 in Python lists (200k docs)
        rows, cols, vals = array("i"), array("i"), array("f")
        for row, doc in enumerate(docs):
            counts = Counter(weighted_terms(doc.lexical_fields()))
            cols.extend(vocab.setdefault(term, len(vocab)) for term in counts)
            vals.extend(counts.values())
            rows.extend([row] * len(counts))
        tf = sparse.csc_matrix(
            (np.frombuffer(vals, dtype=np.float32), (np.frombuffer(rows, dtype=np.int32), np.frombuffer(cols, dtype=np.int32))),
            shape=(len(docs), len(vocab)),
        )
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        return cls(uuid.uuid4().hex[:12], list(docs), vocab, tf, vectors, _vector_index(vectors))

    # ---- persistence ----------------------------------------------------
    def save(self, root: Path) -> None:
        """Write to root/<seg_id> through a temporary directory, checksummed."""
        final = root / self.seg_id
        tmp = root / f".{self.seg_id}.tmp"
        tmp.mkdir(parents=True)
        (tmp / "docs.json").write_text(json.dumps([d.to_json() for d in self.docs], ensure_ascii=False), "utf-8")
        (tmp / "vocab.json").write_text(json.dumps(self.vocab, ensure_ascii=False), "utf-8")
        sparse.save_npz(tmp / "tf.npz", self.tf)
        np.save(tmp / "vectors.npy", self.vectors)
        faiss.write_index(self.vindex, str(tmp / "vectors.faiss"))
        checksums = {name: _sha256(tmp / name) for name in _FILES}
        (tmp / "checksums.json").write_text(json.dumps(checksums), "utf-8")
        os.replace(tmp, final)

    @classmethod
    def load(cls, root: Path, seg_id: str) -> "Segment":
        path = root / seg_id
        try:
            checksums = json.loads((path / "checksums.json").read_text("utf-8"))
            for name in _FILES:
                if _sha256(path / name) != checksums[name]:
                    raise IndexCorrupt(f"segment {seg_id}: {name} does not match its checksum")
            docs = [IndexDoc.from_json(d) for d in json.loads((path / "docs.json").read_text("utf-8"))]
            vocab = json.loads((path / "vocab.json").read_text("utf-8"))
            tf = sparse.load_npz(path / "tf.npz").tocsc()
            # memory-mapped: only the rows used for re-scoring become resident
            vectors = np.load(path / "vectors.npy", mmap_mode="r")
            vindex = faiss.read_index(str(path / "vectors.faiss"))
        except IndexCorrupt:
            raise
        except (OSError, ValueError, KeyError, TypeError, RuntimeError) as exc:
            raise IndexCorrupt(f"segment {seg_id} cannot be read: {exc}") from exc
        if not (len(docs) == tf.shape[0] == vectors.shape[0] == vindex.ntotal):
            raise IndexCorrupt(f"segment {seg_id}: documents, terms and vectors disagree in count")
        return cls(seg_id, docs, vocab, tf, vectors, vindex)
