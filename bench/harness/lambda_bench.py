"""Items 1-3 of the benchmark: cold start, CPU per warm request and peak RSS, Rust vs Python.

Both implementations run as real Lambda processes against the Runtime API emulator and the fake
SageMaker, side by side in one run. Every loop is bounded by a count and a time budget.

    python -m harness.lambda_bench --out RESULTS.json [--cold 20] [--requests 150]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

from .fake_sagemaker import FakeSageMaker
from .functions import RUST_BINARY, SPAWNERS, apigw_event, fake_image, runtime_only_event, scratch_dir
from .machine import describe

KINDS = ("rust", "python")
CLASS_COUNTS = (257, 1_000, 21_843)
SMALL_IMAGE = 10_000
IMAGE_SIZES = (10_000, 100_000, 1_000_000, 4_000_000)
INVOKE_TIMEOUT_S = 30.0
BLOCK = 10


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


def cold_starts(sagemaker: FakeSageMaker, rounds: int, workdir: Path, log) -> dict:
    """`rounds` cold starts per implementation, alternating which goes first; one discarded
    round before them warms the page cache (binary, interpreter, site-packages)."""
    event = apigw_event(fake_image(SMALL_IMAGE), 5)
    results: dict[str, list[dict]] = {k: [] for k in KINDS}
    deadline = time.monotonic() + 300
    for r in range(rounds + 1):
        order = KINDS if r % 2 == 0 else tuple(reversed(KINDS))
        for kind in order:
            with SPAWNERS[kind]("bench-257", sagemaker.url, workdir, first_event=event) as f:
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
    for kind in KINDS:
        walls = [s["wall_ms"] for s in results[kind]]
        log(f"cold {kind}: median {statistics.median(walls):.1f} ms over {len(walls)}")
    return results


def warm_processes() -> list[tuple[str, int, list[tuple[int, int]]]]:
    """(name, classes, [(k, image bytes)]) per function process. The image-size sweep gets its
    own process so the peak RSS of small requests is not the peak of a 4 MB one."""
    small = [(str(c), c, [(5, SMALL_IMAGE), (c, SMALL_IMAGE)]) for c in CLASS_COUNTS]
    # k = 0: the runtime-only event (no SageMaker call), to split the cost.
    small[0][2].insert(0, (0, 0))
    images = [(f"{CLASS_COUNTS[0]}, images to {IMAGE_SIZES[-1] // 1_000_000} MB", CLASS_COUNTS[0],
               [(5, size) for size in IMAGE_SIZES if size != SMALL_IMAGE])]
    return small[:1] + images + small[1:]


def _check(kind, k, classes, inv, expected):
    status, indexes = answer(inv)
    if k == 0:
        if status != (200 if kind == "rust" else 400):
            raise RuntimeError(f"{kind} runtime-only event: {inv.body[:300]!r}")
        return
    if status != 200 or len(indexes) != min(k, classes):
        raise RuntimeError(f"{kind} {classes} k={k}: {inv.body[:300]!r}")
    # Both must rank the same classes first (random floats: no ties).
    if indexes[:5] != expected.setdefault(k, indexes[:5]):
        raise RuntimeError(f"{kind} disagrees on the top 5: {indexes[:5]} vs {expected[k]}")


def warm_requests(sagemaker: FakeSageMaker, requests: int, warmup: int, budget_s: float, workdir: Path, log):
    """Per-request CPU for every configuration, and the peak RSS of each process.

    The Rust and the Python process of a group run side by side and take turns in blocks of
    `BLOCK` requests, so both see the same background load over time (the machine may be
    shared). Each block starts with one unmeasured request: taking turns request by request
    would measure every request with caches the other process has just evicted."""
    warm, rss = [], []
    for name, classes, configs in warm_processes():
        procs = {kind: SPAWNERS[kind](f"bench-{classes}", sagemaker.url, workdir) for kind in KINDS}
        try:
            for k, image_bytes in configs:
                events = {
                    kind: runtime_only_event(kind) if k == 0 else apigw_event(fake_image(image_bytes), k)
                    for kind in KINDS
                }
                cpu_us = {kind: [] for kind in KINDS}
                wall_us = {kind: [] for kind in KINDS}
                expected: dict = {}
                for kind in KINDS:
                    for _ in range(warmup):
                        _check(kind, k, classes, procs[kind].runtime.invoke(events[kind], INVOKE_TIMEOUT_S), expected)
                started = time.monotonic()
                while len(cpu_us[KINDS[-1]]) < requests:
                    for kind in KINDS:
                        for i in range(1 + BLOCK):
                            inv = procs[kind].runtime.invoke(events[kind], INVOKE_TIMEOUT_S)
                            _check(kind, k, classes, inv, expected)
                            if i > 0:
                                cpu_us[kind].append(inv.cpu_ns / 1e3)
                                wall_us[kind].append((inv.done_at - inv.delivered_at) * 1e6)
                    if time.monotonic() - started > budget_s and len(cpu_us[KINDS[-1]]) >= 20:
                        break
                for kind in KINDS:
                    warm.append({"kind": kind, "classes": classes, "k": k, "image_bytes": image_bytes,
                                 "cpu_us": cpu_us[kind], "wall_us": wall_us[kind]})
                log(
                    f"warm classes={classes:<6} k={k:<6} image={image_bytes:<8} cpu median "
                    + "  ".join(f"{kind} {statistics.median(cpu_us[kind]):9.1f} us" for kind in KINDS)
                    + f"  (n={len(cpu_us[KINDS[0]])})"
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


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--cold", type=int, default=20, help="cold starts per implementation")
    ap.add_argument("--requests", type=int, default=150, help="measured warm requests per configuration")
    ap.add_argument("--warmup", type=int, default=10, help="unmeasured warm requests first")
    ap.add_argument("--budget", type=float, default=20.0, help="seconds per configuration, at most")
    args = ap.parse_args(argv)
    if not RUST_BINARY.exists():
        raise SystemExit(f"{RUST_BINARY} is missing: cargo build --release -p sagefront-function")

    def log(msg):
        print(f"[lambda_bench] {msg}", flush=True)

    workdir = scratch_dir()
    sagemaker = FakeSageMaker()
    try:
        results = {"machine_before": describe(), "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
        results["cold"] = cold_starts(sagemaker, args.cold, workdir, log)
        results["warm"], results["rss"] = warm_requests(
            sagemaker, args.requests, args.warmup, args.budget, workdir, log
        )
        results["machine_after"] = describe()
        results["settings"] = vars(args) | {"out": str(args.out)}
    finally:
        sagemaker.close()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=1))
    log(f"wrote {args.out} (function logs in {workdir})")


if __name__ == "__main__":
    main()
