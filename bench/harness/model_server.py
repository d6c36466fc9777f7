"""Item 6: model-server latency per image and throughput at concurrency 1, 2 and 4.

Starts the release `sagefront-model-server serve` on a loopback port, waits for `/ping`, then
posts two real photos (scikit-learn's china.jpg and flower.jpg, 640x427 JPEG) to
`/invocations` from 1, 2 and 4 keep-alive clients: a fixed request count per level, bounded in
time.

    python -m harness.model_server --out RESULTS.json --binary PATH --model-dir DIR
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import pathlib
import signal
import socket
import statistics
import subprocess
import threading
import time
from pathlib import Path

from .machine import describe

LEVELS = (1, 2, 4)


def sample_images() -> list[tuple[str, bytes]]:
    import sklearn.datasets as d

    base = pathlib.Path(d.__file__).parent / "images"
    return [(name, (base / name).read_bytes()) for name in ("china.jpg", "flower.jpg")]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_ready(port: int, proc: subprocess.Popen, limit_s: float = 180) -> None:
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError("model-server exited during startup")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/ping")
            if conn.getresponse().status == 200:
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"model-server not ready within {limit_s}s")


def run_level(port: int, images, concurrency: int, total: int, budget_s: float) -> dict:
    latencies: list[float] = []
    errors = [0]
    lock = threading.Lock()
    counter = iter(range(total))
    stop_at = time.monotonic() + budget_s

    def client():
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        while time.monotonic() < stop_at:
            with lock:
                i = next(counter, None)
            if i is None:
                return
            name, body = images[i % len(images)]
            t0 = time.perf_counter()
            conn.request("POST", "/invocations", body=body,
                         headers={"Content-Type": "application/x-image", "Accept": "application/json"})
            resp = conn.getresponse()
            payload = resp.read()
            dt = time.perf_counter() - t0
            with lock:
                if resp.status == 200 and len(json.loads(payload)) == 1000:
                    latencies.append(dt * 1e3)
                else:
                    errors[0] += 1

    threads = [threading.Thread(target=client, daemon=True) for _ in range(concurrency)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join(budget_s + 60)
    wall = time.perf_counter() - started
    latencies.sort()
    return {
        "concurrency": concurrency,
        "requests": len(latencies),
        "errors": errors[0],
        "wall_s": wall,
        "throughput_rps": len(latencies) / wall,
        "p50_ms": statistics.median(latencies),
        "p90_ms": latencies[int(0.9 * (len(latencies) - 1))],
        "max_ms": latencies[-1],
    }


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--binary", type=Path, required=True)
    ap.add_argument("--model-dir", type=Path, required=True)
    ap.add_argument("--requests", type=int, default=100, help="requests per concurrency level")
    ap.add_argument("--budget", type=float, default=60.0, help="seconds per level, at most")
    args = ap.parse_args(argv)
    port = free_port()
    log = open(args.out.with_suffix(".log"), "ab")
    proc = subprocess.Popen(
        [str(args.binary), "serve", "--model-dir", str(args.model_dir), "--bind", "127.0.0.1",
         "--port", str(port), "--endpoint-name", "bench"],
        stdout=log, stderr=log, start_new_session=True,
        env=dict(os.environ, RUST_LOG="warn"),
    )
    try:
        t0 = time.perf_counter()
        wait_ready(port, proc)
        ready_s = time.perf_counter() - t0
        images = sample_images()
        run_level(port, images, 1, 4, 30)  # warm-up: first-touch allocations, page cache
        levels = []
        for c in LEVELS:
            level = run_level(port, images, c, args.requests * c, args.budget)
            levels.append(level)
            print(f"[model_server] concurrency {c}: p50 {level['p50_ms']:.1f} ms, "
                  f"{level['throughput_rps']:.1f} images/s, errors {level['errors']}", flush=True)
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        log.close()
    result = {
        "machine": describe(),
        "ready_s": ready_s,
        "images": [{"name": n, "bytes": len(b)} for n, b in images],
        "levels": levels,
        "binary": str(args.binary),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
