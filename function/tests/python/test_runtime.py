"""The shipped package on the Lambda Runtime API: no request ends the process, an event that is
not an HTTP request fails that invocation only, bodies reach SageMaker byte for byte, and the
model call never runs past the invocation's deadline.

The binary is the deployment package's `bootstrap` (release, arm64, built by scripts/package as
it ships, with the profile's `panic = "unwind"`), run under qemu-user.
"""

from __future__ import annotations

import base64
import json
import time

import pytest
from conftest import answer, rest_event, spawn

from harness import functions
from harness.runtime_api import invocation_id

JPEG = functions.fake_image(10_000, seed=1)


def header(resp, name):
    for key in ("headers", "multiValueHeaders"):
        for k, v in (resp.get(key) or {}).items():
            if k.lower() == name:
                return v[0] if isinstance(v, list) else v
    return None


def started(proc):
    """The process's start time (field 22 of /proc/PID/stat): a PID that was reused has another."""
    with open(f"/proc/{proc.pid}/stat") as f:
        return f.read().rsplit(")", 1)[1].split()[19]


@pytest.fixture
def function(bootstrap_argv, sagemaker, tmp_path):
    proc = spawn(bootstrap_argv, sagemaker.url, tmp_path, {"FAULT_INJECTION": "on", "PREPROCESS": "off"})
    yield proc
    proc.stop()


def predictions_event(headers=None):
    return rest_event("POST", "/predictions", JPEG, "image/jpeg", base64_encoded=True, headers=headers)


def test_a_panic_is_that_requests_500_and_the_same_process_serves_the_next_request(function, tmp_path):
    pid, since = function.pid, started(function)
    inv = function.runtime.invoke(predictions_event({"x-sagefront-fault": "panic"}), timeout=120)
    resp = answer(inv)
    assert resp["statusCode"] == 500, resp
    assert resp["json"] == {
        "error": {"code": "internal", "message": "internal error; see the function's logs for this request id"}
    }
    assert header(resp, "x-request-id") == inv.request_id
    assert header(resp, "content-type") == "application/json"

    resp = answer(function.runtime.invoke(predictions_event(), timeout=120))
    assert resp["statusCode"] == 200, resp
    assert len(resp["json"]["predictions"]) == 5
    assert function.alive() and function.pid == pid and started(function) == since

    log = (tmp_path / "function.log").read_text()
    lines = [json.loads(line) for line in log.splitlines() if line.startswith("{")]
    panics = [line for line in lines if "x-sagefront-fault: panic" in json.dumps(line)]
    assert len(panics) == 1, log
    assert panics[0]["level"] == "ERROR"
    # The panic's line is in the invocation's span: it names the request.
    assert inv.request_id in json.dumps(panics[0]), panics[0]


@pytest.mark.parametrize("event", [b'{"detail-type": "Scheduled Event"}', b"not json", b'{"body": 5}'])
def test_an_event_that_is_not_http_fails_that_invocation_only(function, event):
    pid, since = function.pid, started(function)
    inv = function.runtime.invoke(event, timeout=120)
    assert inv.outcome == "error", inv.body
    diagnostic = inv.json()
    assert diagnostic["errorType"] and diagnostic["errorMessage"], diagnostic
    assert inv.echoed_invocation_id == invocation_id(inv.request_id)
    assert answer(function.runtime.invoke(functions.runtime_only_event("rust"), timeout=120))["statusCode"] == 200
    assert function.alive() and function.pid == pid and started(function) == since


@pytest.mark.parametrize("size", [10_000, 3_000_000])
def test_a_json_body_reaches_sagemaker_byte_for_byte(function, sagemaker, size):
    image = functions.fake_image(size, seed=size)
    body = json.dumps({"image": base64.b64encode(image).decode(), "k": 3})
    resp = answer(function.runtime.invoke(rest_event("POST", "/predictions", body, "application/json"), timeout=120))
    assert resp["statusCode"] == 200, resp
    assert len(resp["json"]["predictions"]) == 3
    assert sagemaker.last_body == image


def test_a_base64_raw_body_reaches_sagemaker_byte_for_byte_and_the_answer_echoes_the_invocation_id(function, sagemaker):
    image = functions.fake_image(2_000_000, seed=3)
    inv = function.runtime.invoke(rest_event("POST", "/predictions", image, "image/jpeg", True), timeout=120)
    assert answer(inv)["statusCode"] == 200
    assert sagemaker.last_body == image
    assert inv.echoed_invocation_id == invocation_id(inv.request_id)


def test_the_model_call_ends_before_the_invocations_deadline(bootstrap_argv, sagemaker, tmp_path):
    sagemaker.delay_s = 10.0
    proc = spawn(bootstrap_argv, sagemaker.url, tmp_path, {"PREPROCESS": "off", "INVOKE_TIMEOUT_MS": "25000"})
    try:
        # Let init finish first (its warm-up pings SageMaker; under qemu it takes a while).
        assert answer(proc.runtime.invoke(functions.runtime_only_event("rust"), timeout=120))["statusCode"] == 200
        proc.runtime.deadline_ms = 3_000
        inv = proc.runtime.invoke(predictions_event(), timeout=60)
        resp = answer(inv)
        assert resp["statusCode"] == 504, resp
        assert resp["json"]["error"]["code"] == "endpoint_timeout"
        assert inv.done_at - inv.delivered_at < 3.0, "answered after the deadline"
        assert proc.alive()
    finally:
        proc.stop()


def test_a_text_format_log_line_is_plain_text(bootstrap_argv, sagemaker, tmp_path):
    # Lambda's default log format is Text; CloudWatch shows ANSI escape codes as literal text.
    proc = spawn(bootstrap_argv, sagemaker.url, tmp_path, {"AWS_LAMBDA_LOG_FORMAT": "Text"})
    try:
        inv = proc.runtime.invoke(functions.runtime_only_event("rust"), timeout=120)
        assert answer(inv)["statusCode"] == 200
    finally:
        proc.stop()
    log = (tmp_path / "function.log").read_text()
    request = [line for line in log.splitlines() if inv.request_id in line and " request " in line]
    assert len(request) == 1, log
    assert "\x1b" not in log, log
    assert request[0].lstrip().startswith("INFO "), request[0]
    assert f"request_id={inv.request_id}" in request[0], request[0]
