"""The index on disk: immutable segments, versioned manifests, one CURRENT pointer.

A version is published by writing its manifest and then replacing CURRENT with
os.replace, which is atomic: readers see the old version or the new one, never
half of either.
"""
from __future__ import annotations

import fcntl
import json
import os
import shutil
import time
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Iterator

from search_index.segment import IndexCorrupt

KEEP_VERSIONS = 3
# bumped whenever segments are written differently; older indexes must be rebuilt
INDEX_FORMAT = 2


@dataclass
class Manifest:
    version: str
    model: str
    dim: int
    segments: list[str]
    tombstones: dict[str, list[int]] = field(default_factory=dict)  # seg_id -> dead service ids
    created_at: float = field(default_factory=time.time)
    docs: int = 0
    format: int = 1  # manifests written before the field existed are format 1

    def to_json(self) -> str:
        return json.dumps(asdict(self))


class IndexMissing(Exception):
    """No index has been published in this directory yet."""


class IndexStore:
    def __init__(self, root: Path):
        self.root = Path(root)
        self.segments_dir = self.root / "segments"
        self.versions_dir = self.root / "versions"
        self.current_file = self.root / "CURRENT"

    def ensure(self) -> None:
        self.segments_dir.mkdir(parents=True, exist_ok=True)
        self.versions_dir.mkdir(parents=True, exist_ok=True)

    @contextmanager
    def writer_lock(self) -> Iterator[None]:
        """One writer at a time across processes (builds, syncs, pruning)."""
        self.ensure()
        with (self.root / ".lock").open("w") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)

    def current_stamp(self) -> tuple[int, int] | None:
        """Cheap change detector for readers: (inode, mtime) of CURRENT."""
        try:
            st = self.current_file.stat()
        except FileNotFoundError:
            return None
        return (st.st_ino, st.st_mtime_ns)

    def current_manifest(self) -> Manifest:
        try:
            version = self.current_file.read_text("utf-8").strip()
        except FileNotFoundError:
            raise IndexMissing(f"no search index in {self.root}") from None
        return self.read_manifest(version)

    def read_manifest(self, version: str) -> Manifest:
        path = self.versions_dir / version / "manifest.json"
        try:
            manifest = Manifest(**json.loads(path.read_text("utf-8")))
        except (OSError, ValueError, TypeError) as exc:
            raise IndexCorrupt(f"索引版本 {version!r} 的清单无法读取：{exc}") from exc
        if manifest.format != INDEX_FORMAT:
            raise IndexCorrupt(f"索引版本 {version!r} 为索引格式 {manifest.format}，当前版本只能读取索引格式 {INDEX_FORMAT}")
        return manifest

    def new_version_name(self) -> str:
        return time.strftime("v%Y%m%d-%H%M%S") + f"-{time.time_ns() % 1_000_000_000:09d}"

    def publish(self, manifest: Manifest) -> None:
        """Write the manifest, then switch CURRENT to it atomically."""
        vdir = self.versions_dir / manifest.version
        vdir.mkdir(parents=True)
        tmp = vdir / "manifest.json.tmp"
        tmp.write_text(manifest.to_json(), "utf-8")
        os.replace(tmp, vdir / "manifest.json")
        pointer = self.root / f".CURRENT.{os.getpid()}.tmp"
        pointer.write_text(manifest.version, "utf-8")
        os.replace(pointer, self.current_file)
        self._prune(manifest)

    def _prune(self, current: Manifest) -> None:
        # Keep a few versions so a reader in the middle of a switch still finds its files.
        versions = sorted(p.name for p in self.versions_dir.iterdir() if p.is_dir())
        keep = set(versions[-KEEP_VERSIONS:]) | {current.version}
        for name in versions:
            if name not in keep:
                shutil.rmtree(self.versions_dir / name, ignore_errors=True)
        referenced: set[str] = set()
        for name in keep:
            try:
                referenced.update(self.read_manifest(name).segments)
            except IndexCorrupt:
                continue
        for seg in self.segments_dir.iterdir():
            if seg.name not in referenced and not seg.name.startswith("."):
                shutil.rmtree(seg, ignore_errors=True)
