"""What every benchmark prints about the machine it ran on."""
from __future__ import annotations

import os
import platform
from datetime import datetime
from pathlib import Path
from typing import Any

import psutil


def machine(**extra: Any) -> dict[str, Any]:
    cpu = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "nproc": len(os.sched_getaffinity(0)),
        "cpu": cpu or platform.processor() or platform.machine(),
        "memory_gb": round(psutil.virtual_memory().total / 2**30, 1),
        "python": platform.python_version(),
        **extra,
        "date": datetime.now().astimezone().isoformat(timespec="seconds"),
        # other work on the machine shows up in the figures; say how busy it was
        "loadavg_at_start": [round(x, 2) for x in os.getloadavg()],
    }
