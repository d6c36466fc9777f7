"""The Rust function's own Runtime API loop (`function/src/runtime.rs`), run as a real process
against the local Runtime API: large bodies reach SageMaker byte for byte, the answer echoes
the invocation id, and an event that is not an HTTP event is reported as an invocation error
without stopping the function.

Needs a built `sagefront-function` (scripts/test's Rust step builds the debug one first).
"""

from __future__ import annotations

import base64
import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from harness import functions  # noqa: E402
from harness.fake_sagemaker import FakeSageMaker  # noqa: E402
from harness.runtime_api import invocation_id  # noqa: E402


def _binary() -> Path:
    """The most recently built binary, release or debug."""
    built = [p for p in (functions.RUST_BINARY, functions.TARGET_DIR / "debug" / "sagefront-function") if p.exists()]
    assert built, "no sagefront-function binary: run `cargo build -p sagefront-function` first"
    return max(built, key=lambda p: p.stat().st_mtime)


@pytest.fixture(scope="module")
def sagemaker():
    fake = FakeSageMaker()
    yield fake
    fake.close()


@pytest.fixture(scope="module")
def function(sagemaker, tmp_path_factory):
    proc = functions.spawn_rust("bench-257", sagemaker.url, tmp_path_factory.mktemp("fn"), binary=_binary())
    yield proc
    proc.stop()


def _rest_event(body, content_type: str, base64_encoded: bool) -> bytes:
    event = json.loads(functions.apigw_event(b"", 5))
    event["path"] = event["resource"] = "/predictions"
    event["headers"]["Content-Type"] = content_type
    event["multiValueHeaders"]["Content-Type"] = [content_type]
    event["body"] = body
    event["isBase64Encoded"] = base64_encoded
    return json.dumps(event).encode()


def _answer(inv):
    assert inv.outcome == "response", inv.body[:500]
    return inv.json()


@pytest.mark.parametrize("size", [10_000, 3_000_000])
def test_a_json_body_reaches_sagemaker_byte_for_byte(function, sagemaker, size):
    image = functions.fake_image(size, seed=size)
    event = _rest_event(json.dumps({"image": base64.b64encode(image).decode(), "k": 3}),
                        "application/json", False)
    answer = _answer(function.runtime.invoke(event))
    assert answer["statusCode"] == 200, answer
    assert len(json.loads(answer["body"])["predictions"]) == 3
    assert sagemaker.last_body == image


def test_a_base64_encoded_raw_body_reaches_sagemaker_byte_for_byte(function, sagemaker):
    image = functions.fake_image(2_000_000, seed=3)
    event = json.loads(_rest_event(base64.b64encode(image).decode(), "image/jpeg", True))
    event["queryStringParameters"] = {"k": "4"}
    event["multiValueQueryStringParameters"] = {"k": ["4"]}
    answer = _answer(function.runtime.invoke(json.dumps(event).encode()))
    assert answer["statusCode"] == 200, answer
    assert len(json.loads(answer["body"])["predictions"]) == 4
    assert sagemaker.last_body == image


def test_escaped_json_in_the_event_is_read_as_json(function, sagemaker):
    image = functions.fake_image(5_000, seed=9)
    # `\/` and `\u0022` are valid JSON escapes some encoders write; both must be undone.
    body = '{"image": "' + base64.b64encode(image).decode().replace("/", "\\/") + '", "k": 2}'
    assert "\\/" in body
    event = _rest_event("PLACEHOLDER", "application/json", False).replace(
        b'"PLACEHOLDER"', json.dumps(body).replace('\\"k\\"', '\\u0022k\\u0022').encode()
    )
    answer = _answer(function.runtime.invoke(event))
    assert answer["statusCode"] == 200, answer
    assert len(json.loads(answer["body"])["predictions"]) == 2
    assert sagemaker.last_body == image


def test_the_answer_echoes_the_invocation_id(function):
    inv = function.runtime.invoke(functions.runtime_only_event("rust"))
    assert _answer(inv)["statusCode"] == 200
    assert inv.echoed_invocation_id == invocation_id(inv.request_id)


@pytest.mark.parametrize("event", [b'{"detail-type": "Scheduled Event"}', b"not json", b'{"body": 5}'])
def test_an_event_that_is_not_http_is_an_invocation_error_and_the_function_goes_on(function, event):
    inv = function.runtime.invoke(event)
    assert inv.outcome == "error"
    diagnostic = inv.json()
    assert diagnostic["errorType"] == "InvalidEvent"
    assert diagnostic["errorMessage"]
    assert inv.echoed_invocation_id == invocation_id(inv.request_id)
    # The process is still there and answers the next event.
    assert _answer(function.runtime.invoke(functions.runtime_only_event("rust")))["statusCode"] == 200
    assert function.proc.poll() is None


def test_a_closed_runtime_api_connection_is_opened_again(function):
    function.runtime.close_connections = True
    try:
        for _ in range(3):
            assert _answer(function.runtime.invoke(functions.runtime_only_event("rust")))["statusCode"] == 200
    finally:
        function.runtime.close_connections = False
    assert function.proc.poll() is None
