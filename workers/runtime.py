"""What a worker process's jobs run against, set once by the worker entry point."""
from __future__ import annotations

from dataclasses import dataclass

from core.platform import Platform
from search_index.engine import SearchEngine


@dataclass
class WorkerRuntime:
    platform: Platform
    search: SearchEngine


_runtime: WorkerRuntime | None = None


def configure(runtime: WorkerRuntime) -> None:
    global _runtime
    _runtime = runtime


def current() -> WorkerRuntime:
    if _runtime is None:
        raise RuntimeError("the worker runtime is not configured; start workers with `flask worker`")
    return _runtime
