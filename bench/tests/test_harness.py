"""Self-test of the benchmark harness: the Runtime API emulator, the fake SageMaker, the CPU
probe and the Python reference handler running under awslambdaric. Runs in a few seconds:

    .venv/bin/python -m pytest -q bench/tests
"""

from __future__ import annotations

import ast
import http.client
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from harness import functions, lambda_bench, report  # noqa: E402
from harness.fake_sagemaker import FakeSageMaker, probabilities_body  # noqa: E402
from harness.lambda_bench import answer  # noqa: E402
from harness.runtime_api import PREFIX, RuntimeApi  # noqa: E402


@pytest.fixture
def runtime():
    api = RuntimeApi()
    yield api
    api.close()


@pytest.fixture(scope="module")
def sagemaker():
    fake = FakeSageMaker()
    yield fake
    fake.close()


def _conn(address: str) -> http.client.HTTPConnection:
    host, port = address.split(":")
    return http.client.HTTPConnection(host, int(port), timeout=5)


def _poll(conn):
    conn.request("GET", f"{PREFIX}/invocation/next")
    resp = conn.getresponse()
    return resp, resp.read()


def test_runtime_api_delivers_events_and_collects_responses_and_errors(runtime):
    conn = _conn(runtime.address)
    first = runtime.submit(b'{"n": 1}')
    second = runtime.submit(b'{"n": 2}')

    resp, body = _poll(conn)
    assert resp.status == 200 and body == b'{"n": 1}'
    rid = resp.getheader("Lambda-Runtime-Aws-Request-Id")
    assert rid == first.request_id
    assert int(resp.getheader("Lambda-Runtime-Deadline-Ms")) > time.time() * 1000
    assert resp.getheader("Lambda-Runtime-Invoked-Function-Arn").startswith("arn:aws:lambda:")
    assert resp.getheader("Lambda-Runtime-Trace-Id")
    conn.request("POST", f"{PREFIX}/invocation/{rid}/response", body=b'{"ok": true}')
    r = conn.getresponse()
    assert (r.status, r.read()) == (202, b'{"status":"OK"}')
    assert first.done.wait(1) and first.outcome == "response" and first.json() == {"ok": True}

    # Same keep-alive connection, as the real clients use it.
    resp, body = _poll(conn)
    assert body == b'{"n": 2}'
    conn.request("POST", f"{PREFIX}/invocation/{second.request_id}/error", body=b'{"errorMessage":"boom"}')
    r = conn.getresponse()
    r.read()
    assert r.status == 202
    assert second.done.wait(1) and second.outcome == "error"

    conn.request("POST", f"{PREFIX}/invocation/not-a-request/response", body=b"{}")
    r = conn.getresponse()
    r.read()
    assert r.status == 400
    conn.request("POST", f"{PREFIX}/init/error", body=b'{"errorMessage":"bad init"}')
    r = conn.getresponse()
    r.read()
    assert r.status == 202 and runtime.init_error == b'{"errorMessage":"bad init"}'
    conn.request("GET", "/2018-06-01/runtime/unknown")
    r = conn.getresponse()
    r.read()
    assert r.status == 404


def test_runtime_api_accepts_chunked_responses(runtime):
    conn = _conn(runtime.address)
    inv = runtime.submit(b"{}")
    _poll(conn)
    conn.putrequest("POST", f"{PREFIX}/invocation/{inv.request_id}/response")
    conn.putheader("Transfer-Encoding", "chunked")
    conn.endheaders()
    conn.send(b"3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n")
    assert conn.getresponse().status == 202
    assert inv.body == b"abcde"


def test_cpu_probe_brackets_each_invocation_between_polls(runtime):
    readings = iter(range(100, 1000, 100))
    runtime.cpu_probe = lambda: next(readings)

    def client():
        conn = _conn(runtime.address)
        for _ in range(2):
            resp, _ = _poll(conn)
            rid = resp.getheader("Lambda-Runtime-Aws-Request-Id")
            conn.request("POST", f"{PREFIX}/invocation/{rid}/response", body=b"{}")
            conn.getresponse().read()
        conn.request("GET", f"{PREFIX}/invocation/next")  # the poll that closes the second one

    threading.Thread(target=client, daemon=True).start()
    a = runtime.invoke(b"{}", timeout=5)
    b = runtime.invoke(b"{}", timeout=5)
    assert (a.cpu_before_ns, a.cpu_after_ns, a.cpu_ns) == (100, 200, 100)
    assert (b.cpu_before_ns, b.cpu_after_ns) == (200, 300)


def test_fake_sagemaker_answers_n_probabilities_in_the_builtin_format(sagemaker):
    conn = http.client.HTTPConnection(sagemaker.url.removeprefix("http://").split(":")[0],
                                      int(sagemaker.url.rsplit(":", 1)[1]), timeout=5)
    conn.request("POST", "/endpoints/bench-1000/invocations", body=b"\xff\xd8\xff image",
                 headers={"Content-Type": "application/x-image"})
    resp = conn.getresponse()
    probs = json.loads(resp.read())
    assert resp.status == 200 and len(probs) == 1000
    assert abs(sum(probs) - 1.0) < 1e-9 and min(probs) >= 0
    assert sagemaker.last_content_type == "application/x-image"
    assert probabilities_body(1000).startswith(b"[") and b", " in probabilities_body(1000)
    conn.request("POST", "/endpoints/no-count/invocations", body=b"x")
    resp = conn.getresponse()
    resp.read()
    assert resp.status == 400 and resp.getheader("x-amzn-ErrorType").startswith("ValidationError")
    conn.request("GET", "/ping")
    resp = conn.getresponse()
    resp.read()
    assert resp.status == 200


def test_cpu_clock_of_a_child_counts_its_work():
    child = subprocess.Popen([sys.executable, "-c", "import time\nt=time.process_time()\nwhile time.process_time()-t<0.2: pass\ntime.sleep(5)"])
    try:
        clock = functions.cpu_clock_id(child.pid)
        deadline = time.monotonic() + 5
        while time.clock_gettime_ns(clock) < 200_000_000 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert time.clock_gettime_ns(clock) >= 200_000_000
        assert functions.proc_status_kib(child.pid, "VmHWM") > 1000
    finally:
        child.kill()
        child.wait()


def test_reference_postprocess_is_literal_eval_argsort_reversed():
    os.environ.setdefault("ENDPOINT_NAME", "bench-257")
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    sys.path.insert(0, str(functions.REFERENCE_DIR))
    import handler

    indexes, probs = handler.postprocess(b"[0.1, 0.5, 0.2, 0.15, 0.05]", 3)
    assert indexes.tolist() == [1, 2, 3] and probs.tolist() == [0.5, 0.2, 0.15]


def _run_one(spawn, sagemaker, tmp_path, k):
    event = functions.apigw_event(functions.fake_image(2_000), k)
    with spawn("bench-257", sagemaker.url, tmp_path, first_event=event) as f:
        assert f.first.done.wait(30), (tmp_path / f"{f.kind}.log").read_text()
        assert f.first.next_polled.wait(5)
        assert f.first.cpu_after_ns > f.first.cpu_before_ns > 0
        warm = f.runtime.invoke(event, timeout=10)
        assert warm.cpu_ns > 0 and f.peak_rss_kib() > 1000
        return answer(f.first), answer(warm)


def test_reference_handler_runs_under_awslambdaric(sagemaker, tmp_path):
    before = sagemaker.invocations
    (status, indexes), (warm_status, warm_indexes) = _run_one(functions.spawn_python, sagemaker, tmp_path, 5)
    expected = sorted(range(257), key=lambda i: -ast.literal_eval(probabilities_body(257).decode())[i])[:5]
    assert status == warm_status == 200
    assert indexes == warm_indexes == expected
    assert sagemaker.invocations == before + 2


def _rust_binary():
    for candidate in (os.environ.get("SAGEFRONT_FUNCTION_BINARY"), functions.RUST_BINARY,
                      functions.TARGET_DIR / "debug" / "sagefront-function"):
        if candidate and Path(candidate).exists():
            return Path(candidate)
    return None


@pytest.mark.skipif(_rust_binary() is None, reason="no sagefront-function binary built")
def test_rust_function_agrees_with_the_reference(sagemaker, tmp_path):
    def spawn(name, url, workdir, first_event=None):
        return functions.spawn_rust(name, url, workdir, first_event, binary=_rust_binary())

    rust = _run_one(spawn, sagemaker, tmp_path, 5)
    python = _run_one(functions.spawn_python, sagemaker, tmp_path, 5)
    assert rust == python
    assert rust[0][0] == 200 and len(rust[0][1]) == 5


# A previous build side by side (--baseline), the mmap-threshold phase and the report. Each
# "build" here is bench/tests/fake_function.py behind an executable of its own, so these run
# without a cargo build.

FAKE_FUNCTION = Path(__file__).with_name("fake_function.py")


def _fake_binary(directory: Path, name: str) -> Path:
    path = directory / name
    path.write_text(f"#!{sys.executable}\nimport runpy\nrunpy.run_path({str(FAKE_FUNCTION)!r}, run_name='__main__')\n")
    path.chmod(0o755)
    return path


def _proc_list(pid: int, name: str) -> list[bytes]:
    """/proc/PID/cmdline or environ as a list. Popen may return while the kernel is still
    setting up the new program (both read empty then), so this waits for them, briefly."""
    deadline = time.monotonic() + 5
    while not (data := Path(f"/proc/{pid}/{name}").read_bytes()) and time.monotonic() < deadline:
        time.sleep(0.01)
    return data.split(b"\0")


def _environ(pid: int) -> list[bytes]:
    return _proc_list(pid, "environ")


def test_rotated_lets_each_kind_go_first_in_turn():
    kinds = ("rust-previous", "rust", "python")
    assert [lambda_bench.rotated(kinds, r)[0] for r in range(4)] == ["rust-previous", "rust", "python", "rust-previous"]
    assert sorted(lambda_bench.rotated(kinds, 2)) == sorted(kinds)


def test_baseline_runs_first_as_rust_previous_from_its_own_binary(sagemaker, tmp_path):
    new, old = _fake_binary(tmp_path, "new"), _fake_binary(tmp_path, "old")
    assert list(lambda_bench.spawners(new)) == ["rust", "python"]
    spawn = lambda_bench.spawners(new, old)
    assert list(spawn) == ["rust-previous", "rust", "python"]
    with spawn["rust-previous"]("bench-257", sagemaker.url, tmp_path, extra_env={"MALLOC_MMAP_THRESHOLD_": "2097152"}) as f:
        assert f.kind == "rust-previous"
        assert str(old.resolve()).encode() in _proc_list(f.pid, "cmdline")
        assert b"MALLOC_MMAP_THRESHOLD_=2097152" in _environ(f.pid)
        assert answer(f.runtime.invoke(functions.runtime_only_event(f.kind), timeout=10))[0] == 200
    with spawn["rust"]("bench-257", sagemaker.url, tmp_path) as f:
        assert str(new.resolve()).encode() in _proc_list(f.pid, "cmdline")
        assert not any(e.startswith(b"MALLOC_MMAP_THRESHOLD_=") for e in _environ(f.pid))
    assert (tmp_path / "rust-previous.log").exists() and (tmp_path / "rust.log").exists()


def _recording_spawners(tmp_path, kinds, calls):
    """Fake builds for `kinds` that record, per invocation, which kind answered (`calls`)."""
    def spawner(kind):
        binary = _fake_binary(tmp_path, f"fake-{kind}")

        def spawn(*args, **kwargs):
            f = functions.spawn_rust(*args, binary=binary, kind=kind, **kwargs)
            invoke = f.runtime.invoke
            f.runtime.invoke = lambda *a, **kw: (calls.append(kind), invoke(*a, **kw))[1]
            return f
        return spawn

    return {kind: spawner(kind) for kind in kinds}


def test_warm_requests_measure_every_build_taking_turns_in_blocks(sagemaker, tmp_path, monkeypatch):
    kinds = ("rust-previous", "rust", "python")
    calls: list[str] = []
    spawn = _recording_spawners(tmp_path, kinds, calls)
    monkeypatch.setattr(lambda_bench, "warm_processes", lambda: [("257", 257, [(5, 2_000)])])
    warm, rss = lambda_bench.warm_requests(sagemaker, 12, 1, 60.0, tmp_path, lambda _: None, spawn)

    assert [w["kind"] for w in warm] == list(kinds)
    # Two rounds of blocks (10 measured requests each) reach 12; every build gets the same count.
    assert all(len(w["cpu_us"]) == 20 and min(w["cpu_us"]) > 0 for w in warm)
    assert calls[:3] == list(kinds)  # one unmeasured warm-up request each
    block = lambda_bench.BLOCK + 1
    turns = [calls[3 + i * block: 3 + (i + 1) * block] for i in range(6)]
    assert turns == [[kind] * block for kind in kinds * 2]
    assert len(calls) == 3 + 6 * block
    assert [(r["kind"], r["process"]) for r in rss] == [(kind, "257") for kind in kinds]
    assert all(r["vmhwm_kib"] > 1000 for r in rss)


def test_mmap_phase_fixes_the_threshold_in_one_process_of_this_build(sagemaker, tmp_path):
    calls: list[str] = []
    spawn = _recording_spawners(tmp_path, ("rust-previous", "rust", "python"), calls)
    environs = []
    recording = {}
    for kind, inner in spawn.items():
        def wrapped(*a, inner=inner, kind=kind, **kw):
            f = inner(*a, **kw)
            environs.append((kind, b"MALLOC_MMAP_THRESHOLD_=2097152" in _environ(f.pid)))
            return f
        recording[kind] = wrapped
    rows = lambda_bench.mmap_threshold(sagemaker, 3, tmp_path, lambda _: None, recording)

    assert [(r["variant"], r["kind"]) for r in rows] == [
        ("default", "rust"), ("MALLOC_MMAP_THRESHOLD_=2097152", "rust"), ("mallopt in the code", "rust-previous")]
    assert environs == [("rust", False), ("rust", True), ("rust-previous", False)]
    assert calls == ["rust", "rust", "rust-previous"] * 3  # request by request, in turn
    for r in rows:
        assert len(r["rss_kib"]) == len(r["cpu_us"]) == 3
        assert 1000 < r["rest_kib"] and min(r["rss_kib"]) > 1000 and r["vmhwm_kib"] >= max(r["rss_kib"])
    # Python is not part of it; without a baseline, the two processes of this build are.
    assert [v[1] for v in lambda_bench.mmap_variants({"rust": None, "python": None})] == ["rust", "rust"]


def test_lambda_bench_refuses_a_baseline_that_is_not_an_executable(tmp_path):
    (tmp_path / "not-exec").write_text("")
    for argv, message in (
        (["--baseline", str(tmp_path / "missing")], "not an executable file"),
        (["--baseline", str(tmp_path / "not-exec")], "not an executable file"),
        (["--baseline-rev", "abc1234"], "--baseline-rev needs --baseline"),
    ):
        with pytest.raises(SystemExit, match=message):
            lambda_bench.main(["--out", str(tmp_path / "out.json"), "--binary", sys.executable, *argv])
    assert not (tmp_path / "out.json").exists()


@pytest.mark.parametrize("args, message", [
    (["--baseline", "/nonexistent/sagefront-function"], "not an executable file"),
    (["--baseline-rev", "abc1234"], "give the binary too"),
    (["--baseline", sys.executable, "--only", "package"], "add it to --only"),
])
def test_scripts_bench_refuses_a_baseline_it_cannot_run(args, message):
    root = Path(__file__).resolve().parents[2]
    env = {k: v for k, v in os.environ.items() if not k.startswith("SAGEFRONT_BENCH_")}
    done = subprocess.run([str(root / "scripts" / "bench"), *args], capture_output=True, text=True, timeout=30, env=env)
    assert done.returncode != 0 and message in done.stderr


def _lambda_results(baseline: bool = True) -> dict:
    """lambda_bench's output for three builds with known medians (three samples around each)."""
    def around(v):
        return [v * 0.98, v, v * 1.02]

    kinds = ["rust-previous", "rust", "python"] if baseline else ["rust", "python"]
    # kind -> (cold ms, {(classes, k, image): cpu µs}, {process: VmHWM KiB})
    values = {
        "rust-previous": (30.0, {(257, 0, 0): 100, (257, 5, 10_000): 400, (257, 5, 4_000_000): 12_000,
                                 (1_000, 5, 10_000): 450, (21_843, 5, 10_000): 2_000},
                          {"257": 9_800, "257, images to 4 MB": 16_000}),
        "rust": (20.0, {(257, 0, 0): 150, (257, 5, 10_000): 420, (257, 5, 4_000_000): 13_000,
                        (1_000, 5, 10_000): 540, (21_843, 5, 10_000): 2_100},
                 {"257": 10_000, "257, images to 4 MB": 30_000}),
        "python": (500.0, {(257, 0, 0): 200, (257, 5, 10_000): 2_000, (257, 5, 4_000_000): 34_000,
                           (1_000, 5, 10_000): 3_700, (21_843, 5, 10_000): 60_000},
                   {"257": 57_000, "257, images to 4 MB": 92_000}),
    }
    machine = {"cpu": "Test CPU", "cpus": 2, "arch": "x86_64", "mem_gib": 8.0, "os": "Debian", "kernel": "6.1",
               "rustc": "rustc 1.95.0", "python": "3.11.7", "loadavg": [0.4, 0.5, 0.6], "busy": []}
    mmap = [{"variant": "default", "kind": "rust", "env": {}, "rest_kib": 9_000, "rss_kib": [15_000, 16_000, 20_000],
             "cpu_us": [13_000] * 3, "vmhwm_kib": 32_000},
            {"variant": "MALLOC_MMAP_THRESHOLD_=2097152", "kind": "rust", "env": {"MALLOC_MMAP_THRESHOLD_": "2097152"},
             "rest_kib": 9_000, "rss_kib": [15_000, 15_000, 15_000], "cpu_us": [14_000] * 3, "vmhwm_kib": 36_000}]
    return {
        "machine_before": machine, "machine_after": {**machine, "loadavg": [0.7, 0.5, 0.6]},
        "started": "2026-12-07T01:02:03Z",
        "builds": {"rust": "a56d427", **({"rust-previous": "535bca7"} if baseline else {})},
        "cold": {k: [{"wall_ms": w, "init_ms": w, "init_cpu_ms": w, "cpu_ms": w, "rss_kib": 9_000}
                     for w in around(values[k][0])] for k in kinds},
        "warm": [{"kind": k, "classes": c, "k": kk, "image_bytes": b, "cpu_us": around(v), "wall_us": around(v)}
                 for k in kinds for (c, kk, b), v in values[k][1].items()],
        "rss": [{"kind": k, "process": p, "classes": 257, "vmhwm_kib": v, "ru_maxrss_kib": v}
                for k in kinds for p, v in values[k][2].items()],
        "mmap": mmap,
        "settings": {"cold": 20, "requests": 150, "warmup": 10, "budget": 20.0},
    }


def _row(block: str, starts: str) -> list[str]:
    line = next(line for line in block.splitlines() if line.startswith(f"| {starts}"))
    return [cell.strip() for cell in line.strip("|").split("|")]


def test_report_renders_one_lambda_table_with_both_builds_python_and_the_targets(tmp_path):
    (tmp_path / "lambda.json").write_text(json.dumps(_lambda_results()))
    block = report.render(report.summarize(tmp_path), None)["lambda"]

    table = block.split("#### ")[0]
    assert sum(1 for line in table.splitlines() if line.startswith("| --- ")) == 1
    header = [c.strip() for c in next(line for line in table.splitlines() if line.startswith("|  |")).strip("|").split("|")]
    assert header[1:4] == ["previous build (535bca7)", "this build (a56d427)", "Python original"]
    assert _row(table, "cold start")[1:] == ["30.0 ms", "20.0 ms", "500.0 ms", "−33.3 %", "×25.0 faster",
                                             "≥ ×20 faster than Python", "**met**"]
    assert _row(table, "CPU per request, 257 classes, k = 5, 10 KB")[4:] == [
        "+5.0 %", "×4.8 less CPU", "within 10 % of the previous build", "**met**"]
    assert _row(table, "CPU per request, 1,000 classes")[4] == "+20.0 %"
    assert _row(table, "CPU per request, 1,000 classes")[-1] == "**missed**"
    assert _row(table, "CPU per request, 257 classes, k = 5, 4.0 MB")[1:4] == ["12.0 ms", "13.0 ms", "34.0 ms"]
    assert _row(table, "peak RSS, small requests")[1:] == ["9.6 MiB", "9.8 MiB", "55.7 MiB", "+2.0 %", "1/5.7 of its RSS",
                                                          "≤ 1/5 of Python's", "**met**"]
    assert _row(table, "peak RSS, 4.0 MB images")[-2:] == ["none (reported)", ""]
    assert "Command: `scripts/bench --only lambda --baseline PREVIOUS`, run on 2026-12-07." in block
    assert "commit 535bca7" in block and "at the start: 0.40, at the end: 0.70" in block
    assert "T01:02" not in block  # a date, no clock time
    mmap = _row(block, "this build, `MALLOC_MMAP_THRESHOLD_=2097152`")
    assert mmap[1:] == ["8.8 MiB", "14.6 MiB", "14.6 MiB", "+0.0 MiB", "35.2 MiB", "14.0 ms"]
    assert _row(block, "this build, glibc's default")[4] == "+4.9 MiB"


def test_report_without_a_baseline_says_the_cpu_target_was_not_measured(tmp_path):
    (tmp_path / "lambda.json").write_text(json.dumps(_lambda_results(baseline=False)))
    block = report.render(report.summarize(tmp_path), None)["lambda"]
    header = next(line for line in block.splitlines() if line.startswith("|  |"))
    assert header.startswith("|  | this build (a56d427) | Python original | this build vs Python |")
    assert "vs previous" not in block and "mallopt" not in block
    assert _row(block, "CPU per request, 257 classes, k = 5, 10 KB")[-1] == "not measured: no `--baseline`"
    assert "Command: `scripts/bench --only lambda`, run on" in block


def test_report_rewrites_only_the_blocks_it_has_results_for(tmp_path):
    results = tmp_path / "results"
    results.mkdir()
    (results / "lambda.json").write_text(json.dumps(_lambda_results()))
    lb, le = report.markers("lambda")
    pb, pe = report.markers("package")
    md = tmp_path / "BENCHMARKS.md"
    kept = f"{pb}\nthe package block of an earlier run\n{pe}"
    md.write_text(f"# Benchmarks\n\n{report.HEADING}\n\n{lb}\nold lambda numbers\n{le}\n\nHand-written analysis.\n\n"
                  f"{kept}\n\n## Another section\n\nuntouched\n")
    report.main(["--results", str(results), "--markdown", str(md)])
    text = md.read_text()
    assert "old lambda numbers" not in text and "| cold start" in text
    assert text.index(lb) < text.index("Hand-written analysis.") < text.index(kept) < text.index("## Another section")
    assert text.count(lb) == text.count(le) == 1
    assert text.endswith("## Another section\n\nuntouched\n")
    assert json.loads((results / "summary.json").read_text())["lambda"]["cpu"]["257 5 10000"]["rust"]["n"] == 3

    # A file without the block gets it after the section's heading, once.
    md.write_text(f"# Benchmarks\n\n{report.HEADING}\n\nHand-written analysis.\n")
    report.main(["--results", str(results), "--markdown", str(md)])
    report.main(["--results", str(results), "--markdown", str(md)])
    text = md.read_text()
    assert text.count(lb) == 1 and text.index(report.HEADING) < text.index(lb) < text.index("Hand-written analysis.")

    md.write_text(f"{report.HEADING}\n\n{lb}\nno end marker\n")
    with pytest.raises(SystemExit, match="markers of the lambda block"):
        report.main(["--results", str(results), "--markdown", str(md)])


def test_report_gives_every_other_step_its_command_and_date(tmp_path):
    machine = {"date": "2026-12-07", "cpu": "Test CPU", "cpus": 2, "loadavg": [0.3, 0.2, 0.1], "busy": []}
    results = {
        "package": {"machine": machine, "rust": {"zip_bytes": 4_000_001, "unzipped_bytes": 8_000_000},
                    "python": {"zip_bytes": 15_000_000, "unzipped_bytes": 50_000_000},
                    "python_with_boto3": {"zip_bytes": 33_000_000, "unzipped_bytes": 78_000_000},
                    "lambda_python": "3.12", "requirements": ["numpy==2.4.6"]},
        "postprocess": {"machine": machine,
                        "python": [{"what": "postprocess", "k": "k=5", "classes": 257, "median_ns": 446_000}],
                        "rust": [{"what": "postprocess", "k": "k=5", "classes": 257, "median_ns": 6_910}]},
        "model_server": {"machine": machine, "ready_s": 0.2, "images": [{"name": "china.jpg", "bytes": 1}],
                         "levels": [{"concurrency": 1, "requests": 100, "p50_ms": 30.7, "p90_ms": 46.0,
                                     "throughput_rps": 29.5, "errors": 0}]},
        "load": {"machine": machine, "image_bytes": 196_653, "duration_s": 20,
                 "runs": [{"connections": 1, "requests": 390, "p50_us": 50_600, "p90_us": 57_100, "p99_us": 66_800,
                           "max_us": 75_700, "rps": 19.5, "errors": 0, "command": "wrk -t1 -c1 -d20s URL"}]},
    }
    for name, data in results.items():
        (tmp_path / f"{name}.json").write_text(json.dumps(data))
    blocks = report.render(report.summarize(tmp_path), None)
    assert list(blocks) == ["package", "postprocess", "model", "load"]
    for step, block in blocks.items():
        begin, end = report.markers(step)
        assert block.startswith(begin) and block.endswith(end)
        assert f"`scripts/bench --only {step}`, run on 2026-12-07" in block
    assert "4,000,001 bytes" in blocks["package"] and "**missed**" in blocks["package"]
    assert _row(blocks["postprocess"], "postprocess")[-1] == "×64.5"
    assert "Load average (1 min) at the start: 0.30." in blocks["load"]
