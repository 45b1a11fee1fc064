"""An immutable slice of the index: documents, term frequencies and vectors.

A full build writes one segment; an incremental update writes a small one on
top and tombstones the older copies, so nothing is re-encoded twice.

Only what every query touches is held as arrays (ids, prices, filter codes,
postings, the vector index); a listing's full record stays as a JSON line in a
memory-mapped file and is parsed only when it is shown.
"""
from __future__ import annotations

import hashlib
import json
import mmap
import os
import uuid
from array import array
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Iterator, Sequence

import faiss
import numpy as np
from scipy import sparse

from search_index.documents import IndexDoc
from search_index.text import weighted_terms

# Below this many vectors an exact flat index is both fastest and exact; above
# it an IVF index with 8-bit codes keeps p95 and memory in bounds (bench/search_bench.py).
APPROXIMATE_ABOVE = 50_000
_FILES = ("docs.jsonl", "arrays.npz", "vocab.json", "tf.npz", "vectors.npy", "vectors.faiss")


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


def term_counts(doc: IndexDoc) -> dict[str, int]:
    return dict(Counter(weighted_terms(doc.lexical_fields())))


def _codes(values: Iterable[str]) -> tuple[list[str], np.ndarray]:
    """Dictionary-encode strings: (distinct values, code per row)."""
    table: dict[str, int] = {}
    codes = np.fromiter((table.setdefault(v, len(table)) for v in values), dtype=np.int32)
    return list(table), codes


@dataclass
class Segment:
    seg_id: str
    blob: bytes | mmap.mmap  # one JSON line per listing
    offsets: np.ndarray  # row i is blob[offsets[i]:offsets[i + 1]]
    ids: np.ndarray
    price: np.ndarray
    cities: list[str]
    city_codes: np.ndarray
    categories: list[str]
    category_codes: np.ndarray
    accreditation_rows: dict[str, np.ndarray]  # upper-cased accreditation -> rows
    vocab: dict[str, int]
    tf: sparse.csc_matrix  # docs x terms, raw term frequencies
    vectors: np.ndarray  # docs x dim, L2-normalised
    vindex: faiss.Index
    doc_len: np.ndarray = field(init=False)
    _masks: dict[tuple[str, str], np.ndarray] = field(init=False, default_factory=dict)

    def __post_init__(self) -> None:
        self.tf.sort_indices()  # Bm25.contains bisects each column
        self.doc_len = np.asarray(self.tf.sum(axis=1)).ravel().astype(np.float32)

    def __len__(self) -> int:
        return len(self.ids)

    def doc(self, row: int) -> IndexDoc:
        raw = self.blob[int(self.offsets[row]) : int(self.offsets[row + 1])]
        return IndexDoc.from_json(json.loads(raw))

    def docs(self) -> Iterator[IndexDoc]:
        return (self.doc(row) for row in range(len(self)))

    # Filter masks are computed once per value and then reused.
    def city_mask(self, city: str) -> np.ndarray:
        code = self.cities.index(city) if city in self.cities else -1
        return self.city_codes == code

    def category_mask(self, category: str) -> np.ndarray:
        key = ("category", category)
        if key not in self._masks:
            prefix = category + "/"
            wanted = [i for i, c in enumerate(self.categories) if c == category or c.startswith(prefix)]
            self._masks[key] = np.isin(self.category_codes, wanted)
        return self._masks[key]

    def accreditation_mask(self, accreditation: str) -> np.ndarray:
        want = accreditation.upper()
        key = ("accreditation", want)
        if key not in self._masks:
            mask = np.zeros(len(self), dtype=bool)
            mask[self.accreditation_rows.get(want, np.array([], dtype=np.int64))] = True
            self._masks[key] = mask
        return self._masks[key]

    # ---- building -------------------------------------------------------
    @classmethod
    def build(
        cls, docs: Sequence[IndexDoc], vectors: np.ndarray, counts: Sequence[dict[str, int]] | None = None
    ) -> "Segment":
        """A segment of docs; `counts` are their term counts when already computed."""
        vocab: dict[str, int] = {}
        # typed arrays: 12 bytes a posting instead of ~100 in Python lists (200k docs)
        rows, cols, vals = array("i"), array("i"), array("f")
        lines: list[bytes] = []
        offsets = np.zeros(len(docs) + 1, dtype=np.int64)
        accreditation_rows: dict[str, list[int]] = {}
        for row, doc in enumerate(docs):
            c = counts[row] if counts is not None else term_counts(doc)
            cols.extend(vocab.setdefault(term, len(vocab)) for term in c)
            vals.extend(c.values())
            rows.extend([row] * len(c))
            line = json.dumps(doc.to_json(), ensure_ascii=False).encode("utf-8") + b"\n"
            lines.append(line)
            offsets[row + 1] = offsets[row] + len(line)
            for acc in {a.upper() for a in doc.accreditations}:
                accreditation_rows.setdefault(acc, []).append(row)
        tf = sparse.csc_matrix(
            (np.frombuffer(vals, dtype=np.float32), (np.frombuffer(rows, dtype=np.int32), np.frombuffer(cols, dtype=np.int32))),
            shape=(len(docs), len(vocab)),
        )
        cities, city_codes = _codes(d.city for d in docs)
        categories, category_codes = _codes(d.category for d in docs)
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        return cls(
            seg_id=uuid.uuid4().hex[:12],
            blob=b"".join(lines),
            offsets=offsets,
            ids=np.array([d.id for d in docs], dtype=np.int64),
            price=np.array([d.price_cny for d in docs], dtype=np.float64),
            cities=cities,
            city_codes=city_codes,
            categories=categories,
            category_codes=category_codes,
            accreditation_rows={k: np.array(v, dtype=np.int64) for k, v in accreditation_rows.items()},
            vocab=vocab,
            tf=tf,
            vectors=vectors,
            vindex=_vector_index(vectors),
        )

    # ---- persistence ----------------------------------------------------
    def save(self, root: Path) -> None:
        """Write to root/<seg_id> through a temporary directory, checksummed."""
        final = root / self.seg_id
        tmp = root / f".{self.seg_id}.tmp"
        tmp.mkdir(parents=True)
        (tmp / "docs.jsonl").write_bytes(bytes(self.blob))
        np.savez(
            tmp / "arrays.npz", offsets=self.offsets, ids=self.ids, price=self.price,
            city_codes=self.city_codes, category_codes=self.category_codes,
            **{f"acc_{i}": rows for i, rows in enumerate(self.accreditation_rows.values())},
        )
        labels = {"cities": self.cities, "categories": self.categories, "accreditations": list(self.accreditation_rows)}
        (tmp / "vocab.json").write_text(json.dumps({"terms": self.vocab, **labels}, ensure_ascii=False), "utf-8")
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
                    raise IndexCorrupt(f"索引段 {seg_id}：{name} 与其校验和（checksum）不符")
            with (path / "docs.jsonl").open("rb") as fh:
                blob: bytes | mmap.mmap = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) if fh.seek(0, 2) else b""
            meta = json.loads((path / "vocab.json").read_text("utf-8"))
            with np.load(path / "arrays.npz") as arrays:
                accreditation_rows = {a: arrays[f"acc_{i}"] for i, a in enumerate(meta["accreditations"])}
                segment = cls(
                    seg_id=seg_id,
                    blob=blob,
                    offsets=arrays["offsets"],
                    ids=arrays["ids"],
                    price=arrays["price"],
                    cities=meta["cities"],
                    city_codes=arrays["city_codes"],
                    categories=meta["categories"],
                    category_codes=arrays["category_codes"],
                    accreditation_rows=accreditation_rows,
                    vocab=meta["terms"],
                    tf=sparse.load_npz(path / "tf.npz").tocsc(),
                    # memory-mapped: only the rows used for re-scoring become resident
                    vectors=np.load(path / "vectors.npy", mmap_mode="r"),
                    vindex=faiss.read_index(str(path / "vectors.faiss")),
                )
        except IndexCorrupt:
            raise
        except (OSError, ValueError, KeyError, TypeError, RuntimeError) as exc:
            raise IndexCorrupt(f"索引段 {seg_id} 无法读取：{exc}") from exc
        n = len(segment)
        if not (len(segment.offsets) == n + 1 == segment.tf.shape[0] + 1 == segment.vectors.shape[0] + 1 == segment.vindex.ntotal + 1):
            raise IndexCorrupt(f"索引段 {seg_id}：文档、词项与向量的数量不一致")
        return segment
