"""Building the index from the database: full rebuilds and incremental syncs."""
from __future__ import annotations

import logging
import multiprocessing
from dataclasses import dataclass
from typing import Callable, Iterable, Sequence

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from core.models import Service
from core.services.index_outbox import clear_changes, pending_changes
from search_index.documents import IndexDoc, searchable_docs
from search_index.encoders import Encoder
from search_index.segment import Segment
from search_index.store import IndexMissing, IndexStore, Manifest

log = logging.getLogger(__name__)

ENCODE_BATCH = 256
# An incremental sync merges everything into one segment past these limits,
# so queries never fan out over many small segments.
MAX_SEGMENTS = 6
MAX_DELTA_SHARE = 0.10

Progress = Callable[[int], None]


@dataclass
class SyncReport:
    version: str | None
    changed: int
    added: int
    removed: int
    merged: bool = False


_fork_encoder: Encoder | None = None  # handed to forked encode workers


def _encode_in_worker(texts: list[str]) -> np.ndarray:
    assert _fork_encoder is not None
    return _fork_encoder.encode(texts)


def encode_docs(
    encoder: Encoder, docs: Sequence[IndexDoc], progress: Progress | None = None, workers: int = 1
) -> np.ndarray:
    """Vectors of docs in order. With workers > 1 the batches are spread over
    forked processes, each one BLAS thread: a full build uses every core
    without oversubscribing any."""
    global _fork_encoder
    texts = [d.vector_text() for d in docs]
    batches = [texts[i : i + ENCODE_BATCH] for i in range(0, len(texts), ENCODE_BATCH)]
    out = np.zeros((len(docs), encoder.dim), dtype=np.float32)
    if workers > 1 and len(batches) > workers:
        _fork_encoder = encoder  # forked children inherit the loaded model
        try:
            with multiprocessing.get_context("fork").Pool(workers) as pool:
                results = pool.imap(_encode_in_worker, batches)
                _collect(results, batches, out, progress)
        finally:
            _fork_encoder = None
    else:
        _collect(map(encoder.encode, batches), batches, out, progress)
    return out


def _collect(results: Iterable[np.ndarray], batches: list[list[str]], out: np.ndarray, progress: Progress | None) -> None:
    start = 0
    for batch, vectors in zip(batches, results):
        out[start : start + len(batch)] = vectors
        start += len(batch)
        if progress:
            progress(len(batch))


def build_from_docs(
    store: IndexStore, encoder: Encoder, docs: Sequence[IndexDoc], progress: Progress | None = None, workers: int = 1
) -> Manifest:
    """Encode and publish docs as a new single-segment version."""
    vectors = encode_docs(encoder, docs, progress, workers)
    segment = Segment.build(docs, vectors)
    with store.writer_lock():
        segment.save(store.segments_dir)
        manifest = Manifest(store.new_version_name(), encoder.name, encoder.dim, [segment.seg_id], docs=len(docs))
        store.publish(manifest)
    return manifest


def build_full(
    session: Session,
    store: IndexStore,
    encoder: Encoder,
    progress: Progress | None = None,
    on_total: Callable[[int], None] | None = None,
    workers: int = 1,
) -> Manifest:
    """Rebuild from every searchable listing; the caller commits (drains the outbox)."""
    drained = pending_changes(session)
    docs = list(searchable_docs(session))
    if on_total:
        on_total(len(docs))
    manifest = build_from_docs(store, encoder, docs, progress, workers)
    if drained:
        clear_changes(session, drained[-1].id)
    log.info("search index %s built: %d listings", manifest.version, len(docs))
    return manifest


def _merge(store: IndexStore, manifest: Manifest, extra: Segment, dead: set[int]) -> Segment:
    docs: list[IndexDoc] = []
    vectors: list[np.ndarray] = []
    for seg_id in manifest.segments:
        seg = Segment.load(store.segments_dir, seg_id)
        gone = dead | set(manifest.tombstones.get(seg_id, []))
        keep = [row for row, doc in enumerate(seg.docs) if doc.id not in gone]
        docs.extend(seg.docs[r] for r in keep)
        vectors.append(np.asarray(seg.vectors[keep]))
    docs.extend(extra.docs)
    vectors.append(extra.vectors)
    return Segment.build(docs, np.concatenate(vectors) if docs else np.zeros((0, extra.vectors.shape[1]), np.float32))


def sync_changes(session: Session, store: IndexStore, encoder: Encoder) -> SyncReport:
    """Apply the outbox of changed listings to the index without a rebuild.

    The caller commits afterwards; if it does not, the same changes are simply
    applied again next time (every step is idempotent).
    """
    changes = pending_changes(session)
    if not changes:
        return SyncReport(None, 0, 0, 0)
    codes = sorted({c.service_code for c in changes})
    try:
        manifest = store.current_manifest()
    except IndexMissing:
        built = build_full(session, store, encoder)
        return SyncReport(built.version, len(codes), built.docs, 0, merged=True)
    if manifest.model != encoder.name:
        built = build_full(session, store, encoder)
        return SyncReport(built.version, len(codes), built.docs, 0, merged=True)

    ids = set(session.scalars(select(Service.id).where(Service.code.in_(codes))))
    docs = list(searchable_docs(session, codes))
    segment = Segment.build(docs, encode_docs(encoder, docs))
    with store.writer_lock():
        manifest = store.current_manifest()  # another writer may have published meanwhile
        tombstones = {seg_id: sorted(set(manifest.tombstones.get(seg_id, [])) | ids) for seg_id in manifest.segments}
        delta_docs = manifest.docs + len(docs)
        merged = len(manifest.segments) + 1 > MAX_SEGMENTS or (
            len(manifest.segments) > 1 and sum(len(v) for v in tombstones.values()) > MAX_DELTA_SHARE * delta_docs
        )
        if merged:
            segment = _merge(store, manifest, segment, ids)
            new = Manifest(store.new_version_name(), encoder.name, encoder.dim, [segment.seg_id], docs=len(segment))
        else:
            new = Manifest(
                store.new_version_name(), encoder.name, encoder.dim,
                manifest.segments + [segment.seg_id], tombstones, docs=delta_docs,
            )
        segment.save(store.segments_dir)
        store.publish(new)
    clear_changes(session, changes[-1].id)
    return SyncReport(new.version, len(codes), len(docs), len(ids) - len(docs), merged)
