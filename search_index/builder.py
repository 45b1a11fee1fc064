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
from core.services.catalog.index_outbox import clear_changes, pending_changes
from search_index.documents import IndexDoc, searchable_docs
from search_index.encoders import Encoder, load_encoder
from search_index.segment import IndexCorrupt, Segment, term_counts
from search_index.store import INDEX_FORMAT, IndexMissing, IndexStore, Manifest

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


_worker_encoder: Encoder | None = None  # one per build worker process

Batch = tuple[np.ndarray, list[dict[str, int]]]


def _prepare(encoder: Encoder, docs: Sequence[IndexDoc]) -> Batch:
    """The two costly steps of indexing a batch: its vectors and its term counts."""
    return encoder.encode([d.vector_text() for d in docs]), [term_counts(d) for d in docs]


def _start_worker(model: str) -> None:
    global _worker_encoder
    _worker_encoder = load_encoder(model, threads=1)


def _prepare_in_worker(docs: Sequence[IndexDoc]) -> Batch:
    assert _worker_encoder is not None
    return _prepare(_worker_encoder, docs)


def prepare_docs(
    encoder: Encoder, docs: Sequence[IndexDoc], progress: Progress | None = None, workers: int = 1
) -> tuple[np.ndarray, list[dict[str, int]]]:
    """Vectors and term counts of docs, in order. With workers > 1 the batches
    are spread over worker processes with one BLAS thread each, so a build uses
    every core without oversubscribing any. Workers are spawned, not forked: a
    fork of a process with threads (a server, a test run) can inherit a held lock."""
    batches = [docs[i : i + ENCODE_BATCH] for i in range(0, len(docs), ENCODE_BATCH)]
    vectors = np.zeros((len(docs), encoder.dim), dtype=np.float32)
    counts: list[dict[str, int]] = []
    if workers > 1 and len(batches) > 2 * workers:
        ctx = multiprocessing.get_context("spawn")
        with ctx.Pool(workers, initializer=_start_worker, initargs=(encoder.name,)) as pool:
            _collect(pool.imap(_prepare_in_worker, batches), vectors, counts, progress)
    else:
        _collect((_prepare(encoder, b) for b in batches), vectors, counts, progress)
    return vectors, counts


def _collect(results: Iterable[Batch], vectors: np.ndarray, counts: list[dict[str, int]], progress: Progress | None) -> None:
    for batch_vectors, batch_counts in results:
        vectors[len(counts) : len(counts) + len(batch_counts)] = batch_vectors
        counts.extend(batch_counts)
        if progress:
            progress(len(batch_counts))


def build_from_docs(
    store: IndexStore, encoder: Encoder, docs: Sequence[IndexDoc], progress: Progress | None = None, workers: int = 1
) -> Manifest:
    """Encode and publish docs as a new single-segment version."""
    vectors, counts = prepare_docs(encoder, docs, progress, workers)
    segment = Segment.build(docs, vectors, counts)
    with store.writer_lock():
        segment.save(store.segments_dir)
        manifest = Manifest(store.new_version_name(), encoder.name, encoder.dim, [segment.seg_id], docs=len(docs), format=INDEX_FORMAT)
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
        keep = [row for row, doc_id in enumerate(seg.ids.tolist()) if doc_id not in gone]
        docs.extend(seg.doc(r) for r in keep)
        vectors.append(np.asarray(seg.vectors[keep]))
    docs.extend(extra.docs())
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
    except (IndexMissing, IndexCorrupt):
        built = build_full(session, store, encoder)
        return SyncReport(built.version, len(codes), built.docs, 0, merged=True)
    if manifest.model != encoder.name:
        built = build_full(session, store, encoder)
        return SyncReport(built.version, len(codes), built.docs, 0, merged=True)

    ids = set(session.scalars(select(Service.id).where(Service.code.in_(codes))))
    docs = list(searchable_docs(session, codes))
    segment = Segment.build(docs, *prepare_docs(encoder, docs))
    with store.writer_lock():
        manifest = store.current_manifest()  # another writer may have published meanwhile
        tombstones = {seg_id: sorted(set(manifest.tombstones.get(seg_id, [])) | ids) for seg_id in manifest.segments}
        delta_docs = manifest.docs + len(docs)
        merged = len(manifest.segments) + 1 > MAX_SEGMENTS or (
            len(manifest.segments) > 1 and sum(len(v) for v in tombstones.values()) > MAX_DELTA_SHARE * delta_docs
        )
        if merged:
            segment = _merge(store, manifest, segment, ids)
            new = Manifest(store.new_version_name(), encoder.name, encoder.dim, [segment.seg_id], docs=len(segment), format=INDEX_FORMAT)
        else:
            new = Manifest(
                store.new_version_name(), encoder.name, encoder.dim,
                manifest.segments + [segment.seg_id], tombstones, docs=delta_docs, format=INDEX_FORMAT,
            )
        segment.save(store.segments_dir)
        store.publish(new)
    clear_changes(session, changes[-1].id)
    return SyncReport(new.version, len(codes), len(docs), len(ids) - len(docs), merged)
