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

from harness import functions  # noqa: E402
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
