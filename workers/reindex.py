"""The console's 重建索引 as an outbox job: the steps of `flask search reindex` (every searchable
listing encoded by search_index.builder.prepare_docs, one new segment published atomically, the
index outbox drained up to the snapshot), cut into runs of at most CHUNK_SECONDS.

Why in runs: an outbox job gets 40 s in RQ and its row a 55 s running lease, while a rebuild of a
full catalog takes minutes. Each run encodes batches until its time is up, keeps them in a staging
directory beside the index and defers the next run; between two runs a worker serves money and
deadline jobs first, and a killed worker costs one batch, not the rebuild. Unlike the CLI, no run
holds the database's write lock while it encodes: the catalog is read once into a snapshot."""
from __future__ import annotations

import json
import logging
import os
import shutil
import time
from pathlib import Path

import numpy as np
import redis

from core.platform import Platform
from core.queue import defer
from core.services.catalog.index_outbox import clear_changes, pending_changes
from core.services.catalog.reindex import REINDEX_JOB, ReindexProgress, read_progress, write_progress
from search_index.builder import ENCODE_BATCH, prepare_docs
from search_index.documents import IndexDoc, searchable_docs
from search_index.encoders import Encoder
from search_index.segment import Segment
from search_index.store import INDEX_FORMAT, IndexStore, Manifest
from workers.runtime import current

log = logging.getLogger(__name__)

CHUNK_SECONDS = 15.0
STAGING_DAYS = 2  # a staging directory left by an abandoned run is removed after this


def rebuild_search_index(run: str) -> str:
    """One run of rebuild `run`: 'continues' (the next run is deferred) or the published version."""
    rt = current()
    platform, store, encoder = rt.platform, rt.search.store, rt.search.encoder
    last = read_progress(platform.redis)
    if last is not None and last.run == run and last.stage == "done" and last.version:
        return last.version  # the row ran again after it had finished (a lost acknowledgement)
    staging = store.root / ".builds" / run
    try:
        return _run(platform, store, encoder, staging, run)
    except BaseException as exc:
        _progress(platform, ReindexProgress(run, "failed", error=f"{type(exc).__name__}: {exc}"[:300]))
        raise  # the outbox runs it again with backoff, from the batches already kept


def _run(platform: Platform, store: IndexStore, encoder: Encoder, staging: Path, run: str) -> str:
    started = time.monotonic()
    docs, drained = _snapshot(platform, store, staging, run)
    total, done, encoded_here = len(docs), 0, False
    for number, start in enumerate(range(0, total, ENCODE_BATCH)):
        batch = docs[start:start + ENCODE_BATCH]
        if (staging / f"batch-{number:06d}.npy").exists():
            done += len(batch)
            continue
        if encoded_here and time.monotonic() - started > CHUNK_SECONDS:
            return _continue(platform, run)
        vectors, counts = prepare_docs(encoder, batch)
        _write(staging / f"batch-{number:06d}.json", json.dumps(counts, ensure_ascii=False).encode("utf-8"))
        _write_array(staging / f"batch-{number:06d}.npy", vectors)  # written last: the batch is complete
        done, encoded_here = done + len(batch), True
        _progress(platform, ReindexProgress(run, "encoding", done, total))
    if encoded_here and time.monotonic() - started > CHUNK_SECONDS / 2:
        return _continue(platform, run)  # building and publishing get a run of their own
    _progress(platform, ReindexProgress(run, "publishing", total, total))
    version = _publish(store, encoder, staging, docs)
    if drained is not None:
        with platform.transaction() as session:
            clear_changes(session, drained)
    _progress(platform, ReindexProgress(run, "done", total, total, version=version))
    shutil.rmtree(staging, ignore_errors=True)
    log.info("search index %s rebuilt from the console: %d listings", version, total)
    return version


def _snapshot(platform: Platform, store: IndexStore, staging: Path, run: str) -> tuple[list[IndexDoc], int | None]:
    """The listings to index and the last outbox change they include, read once per rebuild."""
    path = staging / "snapshot.json"
    if not path.exists():
        _progress(platform, ReindexProgress(run, "snapshot"))
        _drop_abandoned(staging.parent)
        with platform.transaction(write=False) as session:
            changes = pending_changes(session)
            docs = list(searchable_docs(session))
        staging.mkdir(parents=True, exist_ok=True)
        data = {"drained": changes[-1].id if changes else None, "docs": [d.to_json() for d in docs]}
        _write(path, json.dumps(data, ensure_ascii=False).encode("utf-8"))
        _progress(platform, ReindexProgress(run, "encoding", 0, len(docs)))
    data = json.loads(path.read_text("utf-8"))
    return [IndexDoc.from_json(d) for d in data["docs"]], data["drained"]


def _publish(store: IndexStore, encoder: Encoder, staging: Path, docs: list[IndexDoc]) -> str:
    """As search_index.builder.build_from_docs, from the kept batches."""
    batches = sorted(staging.glob("batch-*.npy"))
    vectors = (np.concatenate([np.load(p) for p in batches]) if batches
               else np.zeros((0, encoder.dim), dtype=np.float32))
    counts = [c for p in batches for c in json.loads(p.with_suffix(".json").read_text("utf-8"))]
    segment = Segment.build(docs, vectors, counts)
    with store.writer_lock():
        segment.save(store.segments_dir)
        manifest = Manifest(store.new_version_name(), encoder.name, encoder.dim, [segment.seg_id], docs=len(docs),
                            format=INDEX_FORMAT)
        store.publish(manifest)
    return manifest.version


def _continue(platform: Platform, run: str) -> str:
    with platform.transaction() as session:
        defer(session, REINDEX_JOB, run)
    return "continues"


def _progress(platform: Platform, progress: ReindexProgress) -> None:
    try:
        write_progress(platform.redis, progress)
    except redis.RedisError as exc:  # only the progress bar is lost; the rebuild goes on
        log.warning("reindex progress not recorded: %s", exc)


def _write(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def _write_array(path: Path, array: np.ndarray) -> None:
    tmp = path.with_name(f".{path.stem}.{os.getpid()}.tmp.npy")
    np.save(tmp, array)
    os.replace(tmp, path)


def _drop_abandoned(builds: Path) -> None:
    if not builds.is_dir():
        return
    cutoff = time.time() - STAGING_DAYS * 24 * 3600
    for old in builds.iterdir():
        if old.is_dir() and old.stat().st_mtime < cutoff:
            shutil.rmtree(old, ignore_errors=True)
