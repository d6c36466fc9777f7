"""Cold start, CPU per warm request and peak RSS of the Rust function against the original's
Python handler, and optionally against a previous build of the Rust function.

All implementations run as real Lambda processes against the Runtime API emulator and the fake
SageMaker, side by side in one run, taking turns so that each sees the same machine state. A
last phase measures the Rust builds' memory over repeated 4 MB requests, with and without
glibc's mmap threshold fixed at 2 MiB from the environment. Every loop is bounded by a count
and a time budget.

    python -m harness.lambda_bench --out RESULTS.json [--baseline PREVIOUS_BINARY --baseline-rev REV]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import time
from pathlib import Path
from typing import Callable, Optional

from .fake_sagemaker import FakeSageMaker
from .functions import (
    ROOT,
    RUST_BINARY,
    FunctionProcess,
    apigw_event,
    fake_image,
    is_rust,
    proc_status_kib,
    runtime_only_event,
    scratch_dir,
    spawn_python,
    spawn_rust,
)
from .machine import describe

RUST, PREVIOUS, PYTHON = "rust", "rust-previous", "python"
CLASS_COUNTS = (257, 1_000, 21_843)
SMALL_IMAGE = 10_000
LARGE_IMAGE = 4_000_000
INVOKE_TIMEOUT_S = 30.0
BLOCK = 10
# glibc reads this tunable at start-up; the previous build set the same value with mallopt.
MMAP_THRESHOLD_ENV = {"MALLOC_MMAP_THRESHOLD_": "2097152"}

Spawner = Callable[..., FunctionProcess]


def spawners(binary: Path = RUST_BINARY, baseline: Optional[Path] = None) -> dict[str, Spawner]:
    """One spawner per kind, in the order the kinds take turns: the previous build (when
    `baseline` is given), this build, the Python original."""
    out: dict[str, Spawner] = {}
    if baseline is not None:
        out[PREVIOUS] = lambda *a, **kw: spawn_rust(*a, binary=baseline, kind=PREVIOUS, **kw)
    out[RUST] = lambda *a, **kw: spawn_rust(*a, binary=binary, kind=RUST, **kw)
    out[PYTHON] = spawn_python
    return out


def answer(inv) -> tuple[int, list[int]]:
    """Status code and predicted class indexes from either implementation's proxy response."""
    if inv.outcome != "response":
        return 0, []
    resp = inv.json()
    status = int(resp.get("statusCode", 0))
    if status != 200:
        return status, []
    body = json.loads(resp["body"])
    if "predictions" in body:  # Rust
        return status, [p["index"] for p in body["predictions"]]
    return status, list(body.get("indexes", []))  # Python reference


def rotated(kinds: tuple[str, ...], r: int) -> tuple[str, ...]:
    """`kinds` starting at the `r`-th: round r of a run lets each kind go first in turn."""
    i = r % len(kinds)
    return kinds[i:] + kinds[:i]


def cold_starts(sagemaker: FakeSageMaker, rounds: int, workdir: Path, log, spawn: dict[str, Spawner]) -> dict:
    """`rounds` cold starts per implementation, rotating which goes first; one discarded round
    before them warms the page cache (binaries, interpreter, site-packages)."""
    kinds = tuple(spawn)
    event = apigw_event(fake_image(SMALL_IMAGE), 5)
    results: dict[str, list[dict]] = {k: [] for k in kinds}
    deadline = time.monotonic() + 300
    for r in range(rounds + 1):
        for kind in rotated(kinds, r):
            with spawn[kind]("bench-257", sagemaker.url, workdir, first_event=event) as f:
                inv = f.first
                if not inv.done.wait(INVOKE_TIMEOUT_S):
                    raise RuntimeError(f"{kind}: no answer to the first event (see {workdir})")
                inv.next_polled.wait(INVOKE_TIMEOUT_S)
                status, indexes = answer(inv)
                if status != 200 or len(indexes) != 5:
                    raise RuntimeError(f"{kind}: cold invocation failed: {inv.body[:300]!r}")
                sample = {
                    "wall_ms": (inv.done_at - f.spawned_at) * 1e3,
                    "init_ms": (f.runtime.first_poll_at - f.spawned_at) * 1e3,
                    "init_cpu_ms": inv.cpu_before_ns / 1e6,
                    "cpu_ms": inv.cpu_after_ns / 1e6,
                    "rss_kib": f.peak_rss_kib(),
                }
            if r > 0:
                results[kind].append(sample)
        if time.monotonic() > deadline:
            log(f"cold starts: time budget spent after {r} rounds")
            break
    for kind in kinds:
        walls = [s["wall_ms"] for s in results[kind]]
        log(f"cold {kind}: median {statistics.median(walls):.1f} ms over {len(walls)}")
    return results


def warm_processes() -> list[tuple[str, int, list[tuple[int, int]]]]:
    """(name, classes, [(k, image bytes)]) per function process. The 4 MB images get a process
    of their own so the peak RSS of small requests is not the peak of a 4 MB one. k = 0 is the
    event that calls no model, to split the cost of a small request."""
    small = [(str(c), c, [(5, SMALL_IMAGE)]) for c in CLASS_COUNTS]
    small[0][2].insert(0, (0, 0))
    large = (f"{CLASS_COUNTS[0]}, images to {LARGE_IMAGE // 1_000_000} MB", CLASS_COUNTS[0], [(5, LARGE_IMAGE)])
    return small[:1] + [large] + small[1:]


def _check(kind, k, classes, inv, expected):
    status, indexes = answer(inv)
    if k == 0:
        if status != (200 if is_rust(kind) else 400):
            raise RuntimeError(f"{kind} runtime-only event: {inv.body[:300]!r}")
        return
    if status != 200 or len(indexes) != min(k, classes):
        raise RuntimeError(f"{kind} {classes} k={k}: {inv.body[:300]!r}")
    # All must rank the same classes first (random floats: no ties).
    if indexes[:5] != expected.setdefault(k, indexes[:5]):
        raise RuntimeError(f"{kind} disagrees on the top 5: {indexes[:5]} vs {expected[k]}")


def warm_requests(sagemaker: FakeSageMaker, requests: int, warmup: int, budget_s: float, workdir: Path, log,
                  spawn: dict[str, Spawner]):
    """Per-request CPU for every configuration, and the peak RSS of each process.

    The processes of a group (one per kind) run side by side and take turns in blocks of
    `BLOCK` requests, so all see the same background load over time (the machine may be
    shared). Each block starts with one unmeasured request: taking turns request by request
    would measure every request with caches another process has just evicted."""
    kinds = tuple(spawn)
    warm, rss = [], []
    for name, classes, configs in warm_processes():
        procs: dict[str, FunctionProcess] = {}
        try:
            for kind in kinds:
                procs[kind] = spawn[kind](f"bench-{classes}", sagemaker.url, workdir)
            for k, image_bytes in configs:
                events = {
                    kind: runtime_only_event(kind) if k == 0 else apigw_event(fake_image(image_bytes), k)
                    for kind in kinds
                }
                cpu_us = {kind: [] for kind in kinds}
                wall_us = {kind: [] for kind in kinds}
                expected: dict = {}
                for kind in kinds:
                    for _ in range(warmup):
                        _check(kind, k, classes, procs[kind].runtime.invoke(events[kind], INVOKE_TIMEOUT_S), expected)
                started = time.monotonic()
                while len(cpu_us[kinds[-1]]) < requests:
                    for kind in kinds:
                        for i in range(1 + BLOCK):
                            inv = procs[kind].runtime.invoke(events[kind], INVOKE_TIMEOUT_S)
                            _check(kind, k, classes, inv, expected)
                            if i > 0:
                                cpu_us[kind].append(inv.cpu_ns / 1e3)
                                wall_us[kind].append((inv.done_at - inv.delivered_at) * 1e6)
                    if time.monotonic() - started > budget_s and len(cpu_us[kinds[-1]]) >= 20:
                        break
                for kind in kinds:
                    warm.append({"kind": kind, "classes": classes, "k": k, "image_bytes": image_bytes,
                                 "cpu_us": cpu_us[kind], "wall_us": wall_us[kind]})
                log(
                    f"warm classes={classes:<6} k={k:<3} image={image_bytes:<8} cpu median "
                    + "  ".join(f"{kind} {statistics.median(cpu_us[kind]):9.1f} us" for kind in kinds)
                    + f"  (n={len(cpu_us[kinds[0]])})"
                )
            for kind, f in procs.items():
                peak = f.peak_rss_kib()
                done = f.stop()
                rss.append({"kind": kind, "process": name, "classes": classes, "vmhwm_kib": peak,
                            "ru_maxrss_kib": done.maxrss_kib})
        finally:
            for f in procs.values():
                f.stop()
    return warm, rss


def mmap_variants(spawn: dict[str, Spawner]) -> list[tuple[str, str, dict]]:
    """(label, kind, extra environment) of each Rust process in the mmap-threshold phase."""
    variants = [("default", RUST, {}), ("MALLOC_MMAP_THRESHOLD_=2097152", RUST, dict(MMAP_THRESHOLD_ENV))]
    if PREVIOUS in spawn:
        variants.append(("mallopt in the code", PREVIOUS, {}))
    return variants


def _wait_for_first_poll(f: FunctionProcess, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while f.runtime.first_poll_at is None:
        if not f.alive() or time.monotonic() > deadline:
            raise RuntimeError(f"{f.kind}: never polled for an event")
        time.sleep(0.01)


def mmap_threshold(sagemaker: FakeSageMaker, requests: int, workdir: Path, log, spawn: dict[str, Spawner]) -> list:
    """The Rust builds' resident memory over `requests` 4 MB requests, one process per variant
    (this build with glibc's default, dynamic mmap threshold; this build with the threshold
    fixed at 2 MiB by the environment; the previous build, which fixed it with `mallopt`).
    The processes take turns request by request; `VmRSS` is read after each request (after the
    process has polled for the next event), `VmHWM` at the end."""
    classes = CLASS_COUNTS[0]
    event = apigw_event(fake_image(LARGE_IMAGE), 5)
    procs = []
    try:
        for label, kind, env in mmap_variants(spawn):
            f = spawn[kind](f"bench-{classes}", sagemaker.url, workdir, extra_env=env)
            procs.append(({"variant": label, "kind": kind, "env": env}, f))
        rows = []
        for row, f in procs:
            _wait_for_first_poll(f, INVOKE_TIMEOUT_S)
            row.update(rest_kib=proc_status_kib(f.pid, "VmRSS"), rss_kib=[], cpu_us=[])
            rows.append(row)
        expected: dict = {}
        for _ in range(requests):
            for row, f in procs:
                inv = f.runtime.invoke(event, INVOKE_TIMEOUT_S)
                _check(row["kind"], 5, classes, inv, expected)
                row["cpu_us"].append(inv.cpu_ns / 1e3)
                row["rss_kib"].append(proc_status_kib(f.pid, "VmRSS"))
        for row, f in procs:
            row["vmhwm_kib"] = f.peak_rss_kib()
            log(f"mmap {row['kind']} {row['variant']}: RSS {row['rest_kib'] / 1024:.1f} at rest, "
                f"{row['rss_kib'][0] / 1024:.1f} -> {row['rss_kib'][-1] / 1024:.1f} MiB over {requests} requests, "
                f"peak {row['vmhwm_kib'] / 1024:.1f} MiB, cpu median {statistics.median(row['cpu_us']):.0f} us")
        return rows
    finally:
        for _, f in procs:
            f.stop()


def source_revision() -> str:
    """The last commit that changed the function's build inputs in this checkout (what
    `cargo build` measured here), marked when its sources or lock file differ from it. (The
    workspace's Cargo.toml counts for the commit but not the mark: other engineers' uncommitted
    dev-profile edits there do not change this release build.)"""
    def git(*args):
        return subprocess.run(["git", "-C", str(ROOT), *args], capture_output=True, text=True, timeout=30)

    sources = ("function/src", "function/Cargo.toml", "Cargo.lock")
    rev = git("log", "-1", "--format=%h", "--", *sources, "Cargo.toml")
    if rev.returncode != 0 or not rev.stdout.strip():
        return "unknown"
    dirty = git("status", "--porcelain", "--", *sources).stdout.strip()
    return rev.stdout.strip() + (" with uncommitted changes" if dirty else "")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--cold", type=int, default=20, help="cold starts per implementation")
    ap.add_argument("--requests", type=int, default=150, help="measured warm requests per configuration")
    ap.add_argument("--warmup", type=int, default=10, help="unmeasured warm requests first")
    ap.add_argument("--budget", type=float, default=20.0, help="seconds per configuration, at most")
    ap.add_argument("--mmap-requests", type=int, default=25, help="4 MB requests per process in the mmap phase")
    ap.add_argument("--binary", type=Path, default=RUST_BINARY, help="the Rust build to measure")
    ap.add_argument("--baseline", type=Path, help="a previous build of the Rust function, measured side by side")
    ap.add_argument("--baseline-rev", help="the git revision the baseline was built from (for the report)")
    args = ap.parse_args(argv)
    for path, what in ((args.binary, "the Rust function"), (args.baseline, "--baseline")):
        if path is not None and not (path.is_file() and os.access(path, os.X_OK)):
            raise SystemExit(f"{what}: {path} is not an executable file"
                             + (" (cargo build --release -p sagefront-function)" if path == RUST_BINARY else ""))
    if args.baseline_rev and args.baseline is None:
        raise SystemExit("--baseline-rev needs --baseline")

    def log(msg):
        print(f"[lambda_bench] {msg}", flush=True)

    spawn = spawners(args.binary, args.baseline)
    workdir = scratch_dir()
    sagemaker = FakeSageMaker()
    try:
        results = {
            "machine_before": describe(),
            "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "builds": {RUST: source_revision()}
            | ({PREVIOUS: args.baseline_rev or "previous build"} if args.baseline else {}),
        }
        results["cold"] = cold_starts(sagemaker, args.cold, workdir, log, spawn)
        results["warm"], results["rss"] = warm_requests(
            sagemaker, args.requests, args.warmup, args.budget, workdir, log, spawn
        )
        results["mmap"] = mmap_threshold(sagemaker, args.mmap_requests, workdir, log, spawn)
        results["machine_after"] = describe()
        results["settings"] = {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()}
    finally:
        sagemaker.close()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=1))
    log(f"wrote {args.out} (function logs in {workdir})")


if __name__ == "__main__":
    main()
