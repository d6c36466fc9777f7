"""What the benchmark ran on, and how busy the machine was while it did."""

from __future__ import annotations

import os
import platform
import subprocess
import time


def _first(cmd: list[str]) -> str:
    try:
        return subprocess.run(cmd, capture_output=True, text=True, timeout=10).stdout.strip().splitlines()[0]
    except (OSError, IndexError, subprocess.TimeoutExpired):
        return "?"


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "?"


def _mem_gib() -> float:
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) / 2**20
    return 0.0


def _os() -> str:
    try:
        with open("/etc/os-release") as f:
            for line in f:
                if line.startswith("PRETTY_NAME="):
                    return line.split("=", 1)[1].strip().strip('"')
    except OSError:
        pass
    return platform.system()


def busy_processes(limit: int = 5) -> list[str]:
    """Other processes using CPU right now (rustc, cargo, ...), to say whether the machine was shared."""
    out = subprocess.run(
        ["ps", "-eo", "pcpu=,comm=", "--sort=-pcpu"], capture_output=True, text=True, timeout=10
    ).stdout
    busy = []
    for line in out.splitlines():
        parts = line.split(None, 1)
        if len(parts) == 2 and float(parts[0]) >= 20.0 and parts[1] not in ("ps", "python", "python3"):
            busy.append(f"{parts[1]} {parts[0]}%")
    return busy[:limit]


def describe() -> dict:
    return {
        "date": time.strftime("%Y-%m-%d", time.gmtime()),
        "cpu": _cpu_model(),
        "cpus": os.cpu_count(),
        "arch": platform.machine(),
        "mem_gib": round(_mem_gib(), 1),
        "os": _os(),
        "kernel": platform.release(),
        "rustc": _first(["rustc", "--version"]),
        "python": platform.python_version(),
        "loadavg": os.getloadavg(),
        "busy": busy_processes(),
    }
