"""Segments on disk: exact and approximate vector indexes, checksums."""
from pathlib import Path

import faiss
import numpy as np
import pytest

from search_index import segment as segment_module
from search_index.documents import IndexDoc
from search_index.engine import SearchEngine
from search_index.scoring import Tuning
from search_index.segment import IndexCorrupt, Segment


def _docs(n: int) -> list[IndexDoc]:
    cities = ["重庆", "杭州", "成都"]
    return [IndexDoc(id=i + 1, code=f"S{i}", name=f"检测项目{i}", price_cny=float(i), city=cities[i % 3]) for i in range(n)]


def _vectors(n: int, dim: int = 32) -> np.ndarray:
    rng = np.random.default_rng(7)
    v = rng.standard_normal((n, dim)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def test_small_segments_are_exact(tmp_path: Path) -> None:
    vectors = _vectors(200)
    seg = Segment.build(_docs(200), vectors)
    assert isinstance(seg.vindex, faiss.IndexFlatIP)
    rows = SearchEngine._vector_candidates(seg, vectors[17], np.ones(200, bool), Tuning(candidates=1))
    assert rows == {17}


def test_large_segments_are_approximate_and_survive_a_round_trip(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(segment_module, "APPROXIMATE_ABOVE", 500)
    n = 3000
    vectors = _vectors(n)
    seg = Segment.build(_docs(n), vectors)
    assert isinstance(seg.vindex, faiss.IndexIVF)
    seg.save(tmp_path)
    loaded = Segment.load(tmp_path, seg.seg_id)
    assert isinstance(loaded.vindex, faiss.IndexIVF)

    # with enough lists probed the nearest neighbour of a stored vector is itself
    tuning = Tuning(candidates=5, nprobe=loaded.vindex.nlist)
    found = sum(123 + i in SearchEngine._vector_candidates(loaded, vectors[123 + i], np.ones(n, bool), tuning) for i in range(20))
    assert found == 20
    # a filter is applied inside the index, not after it
    only_hangzhou = loaded.city_mask("杭州")
    rows = SearchEngine._vector_candidates(loaded, vectors[0], only_hangzhou, Tuning(candidates=50, nprobe=64))
    assert rows and all(loaded.doc(r).city == "杭州" for r in rows)


def test_a_damaged_file_fails_its_checksum(tmp_path: Path) -> None:
    seg = Segment.build(_docs(10), _vectors(10))
    seg.save(tmp_path)
    docs = tmp_path / seg.seg_id / "docs.jsonl"
    docs.write_text(docs.read_text("utf-8").replace("检测项目1", "检测项目X"), "utf-8")
    with pytest.raises(IndexCorrupt, match="checksum"):
        Segment.load(tmp_path, seg.seg_id)


def test_parallel_preparation_gives_the_same_vectors_and_terms_in_the_same_order() -> None:
    from search_index.builder import prepare_docs
    from search_index.encoders import load_encoder

    docs = [IndexDoc(id=i, code=f"S{i}", name=f"第{i}号样品的拉伸试验", price_cny=1.0) for i in range(1300)]
    encoder = load_encoder("use-multilingual")
    serial_vectors, serial_counts = prepare_docs(encoder, docs)
    parallel_vectors, parallel_counts = prepare_docs(encoder, docs, workers=2)
    assert np.allclose(serial_vectors, parallel_vectors, atol=1e-5)
    assert parallel_counts == serial_counts and "w:1299" in parallel_counts[1299]
