"""Fault injection end to end: model-server's test-only fault modes (`--fault-injection`, set
through PUT /faults) behind the function, which runs with INVOKE_TIMEOUT_MS=1500 here.

Each fault must become the contract's error, and the function must answer correctly again
right after. Ordering, not wall-clock: the 504 must arrive while model-server still holds the
delayed invocation. A refused connection is the real thing: model-server is stopped, so its port
is closed, and started again before the recovery check (after every other test: see conftest).
"""

import base64

import pytest
import requests

TIMEOUT = 60


def set_fault(model_url, mode, delay_ms=0):
    r = requests.put(f"{model_url}/faults", json={"mode": mode, "delay_ms": delay_ms}, timeout=TIMEOUT)
    assert r.status_code == 200, r.text
    return r.json()


def predict(api_url, image):
    return requests.post(f"{api_url}/predictions", json={"image": base64.b64encode(image).decode(), "k": 1},
                         timeout=TIMEOUT)


@pytest.fixture(autouse=True)
def recovers(api_url, model_url, flower):
    """After every fault: switch it off and prove the next prediction is right."""
    yield
    set_fault(model_url, "off")
    r = predict(api_url, flower)
    assert r.status_code == 200, r.text
    assert r.json()["predictions"][0]["label"] == "daisy"


def error(resp):
    assert resp.headers.get("content-type", "").startswith("application/json")
    assert resp.headers.get("x-request-id")
    return resp.json()["error"]["code"]


def test_delay_beyond_the_invoke_timeout_is_504_before_the_delay_ends(api_url, model_url, flower):
    before = set_fault(model_url, "delay", delay_ms=20_000)
    r = predict(api_url, flower)
    report = requests.get(f"{model_url}/faults", timeout=TIMEOUT).json()
    assert (r.status_code, error(r)) == (504, "endpoint_timeout")
    started = report["delays_started"] - before["delays_started"]
    finished = report["delays_finished"] - before["delays_finished"]
    assert started >= 1 and finished < started, f"the 504 came after the delay ended: {report}"


def test_model_failure_is_502_model_error(api_url, model_url, flower):
    set_fault(model_url, "model_error")
    r = predict(api_url, flower)
    assert (r.status_code, error(r)) == (502, "model_error")


def test_model_not_ready_is_503_with_retry_after(api_url, model_url, flower):
    set_fault(model_url, "not_ready")
    r = predict(api_url, flower)
    assert (r.status_code, error(r)) == (503, "endpoint_unavailable")
    assert int(r.headers["retry-after"]) > 0


@pytest.mark.parametrize("mode", ["garbage", "nan", "empty"])
def test_unusable_model_output_is_502_bad_model_response(api_url, model_url, flower, mode):
    set_fault(model_url, mode)
    r = predict(api_url, flower)
    assert (r.status_code, error(r)) == (502, "bad_model_response")


def test_a_dropped_connection_is_503(api_url, model_url, flower):
    set_fault(model_url, "drop")
    r = predict(api_url, flower)
    assert (r.status_code, error(r)) == (503, "endpoint_unavailable")


@pytest.mark.restarts_model_server
def test_a_refused_connection_is_503(api_url, model_url, model_server, flower):
    model_server.stop()
    try:
        with pytest.raises(requests.ConnectionError):
            requests.get(f"{model_url}/ping", timeout=5)  # the port is closed: refused, not slow
        r = predict(api_url, flower)
    finally:
        model_server.start()
    assert (r.status_code, error(r)) == (503, "endpoint_unavailable")
    assert int(r.headers["retry-after"]) > 0
