"""Describe the machine and software a benchmark ran on."""

from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
import sys
import time
from importlib import metadata
from pathlib import Path
from typing import Any

PACKAGES = (
    "strawberry-graphql", "graphql-core", "starlette", "uvicorn", "uvloop", "httptools", "aiodataloader",
    "httpx", "ladybug", "neo4j", "neo4j-rust-ext", "pydantic", "rich",
)
ROOT = Path(__file__).resolve().parent.parent


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _mem_total_gib() -> float | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return round(int(line.split()[1]) / 1024 / 1024, 1)
    except OSError:
        pass
    return None


def _run(*command: str) -> str | None:
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=30, cwd=ROOT)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return (done.stdout or done.stderr).strip() or None


def _java_version() -> str | None:
    out = _run("java", "-version")
    return out.splitlines()[0] if out else None


def _reference_work() -> int:
    """A fixed mix of what a request does in Python: small dicts, strings, JSON in and out."""
    total = 0
    for i in range(2_000):
        record = {"id": f"ctx-{i}", "path": f"/bench/{i % 97}/{i}", "title": str(i) * 3, "tags": [str(i), "x"]}
        total += len(json.loads(json.dumps(record))["path"].split("/"))
    return total


def reference_cpu_ms(repeats: int = 9) -> float:
    """CPU milliseconds of one `_reference_work` on this host, now (median of `repeats`).

    The hosts these benchmarks run on differ from day to day (another VM build, a busier neighbour), and
    every server's CPU per request moves with them: run 25 measured 2-3x run 23's on the same code. Put
    beside a run's numbers, this says how fast the host ran Python, so runs on different hosts can be told
    apart from a change of the code."""
    times = []
    for _ in range(repeats):
        start = time.thread_time()
        _reference_work()
        times.append((time.thread_time() - start) * 1000)
    return round(statistics.median(times), 2)


def describe() -> dict[str, Any]:
    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    commit = _run("git", "rev-parse", "--short", "HEAD")
    dirty = _run("git", "status", "--porcelain", "--untracked-files=no")
    return {
        "cpu_model": _cpu_model(),
        "cores": os.cpu_count(),
        "cores_available": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "memory_gib": _mem_total_gib(),
        "os": f"{platform.system()} {platform.release()}",
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "java": _java_version(),
        "reference_cpu_ms": reference_cpu_ms(),
        "packages": versions,
        "git_commit": commit,
        "git_dirty": bool(dirty),
        "argv": sys.argv,
    }
