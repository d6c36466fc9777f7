"""A bounded load test on loopback: 2,000 requests at concurrency 16 against the local stack.

Mixed traffic (real predictions, health checks, rejected requests). Asserts: every response is
the expected status (no unexpected 5xx, nothing lost), and after warm-up the processes neither
grow in memory nor leak file descriptors (sockets included). Latency is reported, not asserted.
"""

import base64
import json
import os
import statistics
import subprocess
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

TOTAL = 2000
CONCURRENCY = 16


def rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmRSS:"))


def fd_count(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def function_pid() -> int:
    pgid = os.environ.get("STACK_API_PGID")
    if not pgid:
        pytest.fail("STACK_API_PGID is not set: run through `scripts/test e2e`")
    # The function runs as the child of its supervisor, the group leader (scripts/lib/stack.sh).
    out = subprocess.run(["pgrep", "-P", pgid, "-f", "debug/sagefront-function"], capture_output=True, text=True)
    pids = [int(p) for p in out.stdout.split()]
    assert len(pids) == 1, f"expected one function process under its supervisor {pgid}, found {pids}"
    return pids[0]


def test_bounded_load_loses_nothing_and_leaks_nothing(api_url, china, flower, model_server):
    model_pid = model_server.pid
    fn_pid = function_pid()
    bodies = [
        ("POST", "/predictions?k=3", flower, "image/jpeg", 200),
        ("POST", "/predictions", json.dumps({"image": base64.b64encode(china).decode(), "k": 1}).encode(), "application/json", 200),
        ("GET", "/health", None, None, 200),
        ("POST", "/predictions", b'{"image": "###"}', "application/json", 400),
        ("POST", "/predictions", b"\xff\xd8\xff\xe0 truncated", "image/jpeg", 400),
    ]
    local = threading.local()

    def one(i: int):
        method, path, body, ctype, expected = bodies[i % len(bodies)]
        s = local.__dict__.setdefault("session", requests.Session())
        headers = {"Content-Type": ctype} if ctype else {}
        t0 = time.perf_counter()
        r = s.request(method, api_url + path, data=body, headers=headers, timeout=60)
        return expected, r.status_code, time.perf_counter() - t0

    def run(n: int):
        with ThreadPoolExecutor(CONCURRENCY) as pool:
            return list(pool.map(one, range(n)))

    # Warm-up: connection pools, per-thread allocator arenas, model buffers reach steady state.
    run(200)
    before = (rss_kib(model_pid), rss_kib(fn_pid), fd_count(model_pid), fd_count(fn_pid))
    started = time.perf_counter()
    results = run(TOTAL // 2)
    middle = (rss_kib(model_pid), rss_kib(fn_pid))
    results += run(TOTAL - TOTAL // 2)
    elapsed = time.perf_counter() - started
    time.sleep(0.5)
    after = (rss_kib(model_pid), rss_kib(fn_pid), fd_count(model_pid), fd_count(fn_pid))

    wrong = [(e, s) for e, s, _ in results if e != s]
    latencies = sorted(t for _, _, t in results)
    p50 = statistics.median(latencies) * 1000
    p99 = latencies[int(len(latencies) * 0.99) - 1] * 1000
    print(f"\n{TOTAL} requests at concurrency {CONCURRENCY} in {elapsed:.1f}s ({TOTAL / elapsed:.0f} req/s), "
          f"p50 {p50:.1f} ms, p99 {p99:.1f} ms; RSS model-server {before[0]}→{middle[0]}→{after[0]} KiB, "
          f"function {before[1]}→{middle[1]}→{after[1]} KiB; fds {before[2]}→{after[2]}, {before[3]}→{after[3]}")
    assert len(results) == TOTAL
    assert not wrong, f"{len(wrong)} unexpected statuses, e.g. {wrong[:5]}"
    # A leak grows with every request; a steady state stops growing. Compare the second half of
    # the run with the first.
    for name, b, m, a in [("model-server", before[0], middle[0], after[0]), ("function", before[1], middle[1], after[1])]:
        assert a - m <= max((m - b) // 2, 0) + 4 * 1024, f"{name} RSS kept growing: {b} → {m} → {a} KiB"
    assert after[2] <= before[2] + 4, f"model-server fds {before[2]} -> {after[2]}"
    assert after[3] <= before[3] + 4, f"function fds {before[3]} -> {after[3]}"
