"""Any endpoint behind the API, over real HTTP: `POST /invocations` and the per-model route through
the function to model-server, which stands in for a SageMaker endpoint with inference components
(scripts/test.d/60-e2e.sh: model-server `--model-name sagefront-classifier,sagefront-classifier-b`,
the function's `TARGET_INFERENCE_COMPONENT=sagefront-classifier` and its allow-list `MODELS`).
"""

import json
import pathlib
import time

import pytest
import requests

TIMEOUT = 60
# What scripts/test.d/60-e2e.sh configures (the allow-list's public names and what they target).
ALLOWED = "classifier-b"
ALLOWED_COMPONENT = "sagefront-classifier-b"
DEFAULT_COMPONENT = "sagefront-classifier"
NOT_ON_THE_ENDPOINT = "ghost"


def model_log_lines(inference_id: str, wait_s: float = 5.0) -> list[dict]:
    """model-server's JSON request log lines for one inference id (it logs after answering)."""
    log = pathlib.Path(_model_log())
    deadline = time.monotonic() + wait_s
    while True:
        lines = []
        for text in log.read_text(errors="replace").splitlines():
            try:
                line = json.loads(text)
            except ValueError:
                continue
            if isinstance(line, dict) and line.get("message") == "request" and line.get("inference_id") == inference_id:
                lines.append(line)
        if lines or time.monotonic() > deadline:
            return lines
        time.sleep(0.1)


def _model_log() -> str:
    import os

    return os.environ["STACK_MODEL_LOG"]


def test_the_same_photo_gets_exactly_the_models_own_answer(api_url, model_url, china):
    via_api = requests.post(f"{api_url}/invocations", data=china, headers={"Content-Type": "image/jpeg"}, timeout=TIMEOUT)
    assert via_api.status_code == 200, via_api.text
    # The container's own route, called directly: the model's raw JSON array of 1,000 numbers.
    direct = requests.post(f"{model_url}/invocations", data=china, headers={"Content-Type": "image/jpeg"}, timeout=TIMEOUT)
    assert direct.status_code == 200, direct.text
    assert via_api.content == direct.content
    assert via_api.headers["content-type"] == direct.headers["content-type"]
    assert len(json.loads(via_api.content)) == 1000
    assert via_api.headers.get("x-request-id")


def test_a_json_body_reaches_the_model_as_json_and_its_4xx_reaches_the_caller(api_url, model_url, contract):
    body = json.dumps({"inputs": "not an image"})
    resp = requests.post(f"{api_url}/invocations", data=body, headers={"Content-Type": "application/json"}, timeout=TIMEOUT)
    # model-server refuses a JSON body with 415 (SageMaker: ModelError, OriginalStatusCode 415):
    # the caller gets the model's status and the model's own message.
    direct = requests.post(f"{model_url}/invocations", data=body, headers={"Content-Type": "application/json"}, timeout=TIMEOUT)
    assert direct.status_code == 415, direct.text
    assert resp.status_code == 415, resp.text
    error = resp.json()
    contract.validate(error, "Error")
    assert error["error"]["code"] == "model_rejected_input"
    assert error["error"]["message"] == direct.text.strip()[:1024]
    lines = model_log_lines(resp.headers["x-request-id"])
    assert lines and all(line.get("inference_component") == DEFAULT_COMPONENT for line in lines), lines


def test_the_inference_id_of_every_call_is_the_request_id(api_url, china):
    for path, headers in [
        ("/predictions", {"Content-Type": "image/jpeg"}),
        ("/invocations", {"Content-Type": "image/jpeg"}),
    ]:
        resp = requests.post(f"{api_url}{path}", data=china, headers=headers, timeout=TIMEOUT)
        assert resp.status_code == 200, resp.text
        request_id = resp.headers["x-request-id"]
        assert len(model_log_lines(request_id)) == 1, f"{path}: no model-server line with inference_id={request_id}"


def test_an_allow_listed_model_is_reached_and_other_names_are_refused_before_sagemaker(api_url, china, contract):
    resp = requests.post(f"{api_url}/models/{ALLOWED}/invocations", data=china,
                         headers={"Content-Type": "image/jpeg"}, timeout=TIMEOUT)
    assert resp.status_code == 200, resp.text
    assert len(json.loads(resp.content)) == 1000
    lines = model_log_lines(resp.headers["x-request-id"])
    assert len(lines) == 1 and lines[0].get("inference_component") == ALLOWED_COMPONENT, lines

    for name in ["mistral", ALLOWED_COMPONENT, DEFAULT_COMPONENT]:
        refused = requests.post(f"{api_url}/models/{name}/invocations", data=china,
                                headers={"Content-Type": "image/jpeg"}, timeout=TIMEOUT)
        assert refused.status_code == 404, refused.text
        contract.validate(refused.json(), "Error")
        assert refused.json()["error"]["code"] == "unknown_model"
        assert model_log_lines(refused.headers["x-request-id"], wait_s=1.0) == [], "it reached model-server"


def test_an_allow_listed_name_the_endpoint_does_not_have_is_500_not_retryable(api_url, china, contract):
    resp = requests.post(f"{api_url}/models/{NOT_ON_THE_ENDPOINT}/invocations", data=china,
                         headers={"Content-Type": "image/jpeg"}, timeout=TIMEOUT)
    assert resp.status_code == 500, resp.text
    contract.validate(resp.json(), "Error")
    assert resp.json()["error"]["code"] == "internal"
    assert "retry-after" not in resp.headers


@pytest.mark.parametrize("path", ["/invocations", "/predictions"])
def test_custom_attributes_travel_both_ways(api_url, china, path):
    attributes = 'trace-id=9f2c; session="a b"'
    resp = requests.post(f"{api_url}{path}", data=china, timeout=TIMEOUT,
                         headers={"Content-Type": "image/jpeg", "X-Amzn-SageMaker-Custom-Attributes": attributes})
    assert resp.status_code == 200, resp.text
    assert resp.headers.get("x-amzn-sagemaker-custom-attributes") == attributes


def test_custom_attributes_sagemaker_would_refuse_are_400(api_url, china, contract):
    resp = requests.post(f"{api_url}/invocations", data=china, timeout=TIMEOUT,
                         headers={"Content-Type": "image/jpeg", "X-Amzn-SageMaker-Custom-Attributes": "x" * 1025})
    assert resp.status_code == 400, resp.text
    contract.validate(resp.json(), "Error")
    assert resp.json()["error"]["code"] == "invalid_header"
    assert model_log_lines(resp.headers["x-request-id"], wait_s=1.0) == []


def test_binary_bodies_pass_untouched(api_url, model_url):
    # Not an image: model-server refuses it with its own 4xx; what matters is that the bytes got
    # there unchanged, which its answer to the same bytes sent directly shows.
    blob = bytes(range(256)) * 64
    via_api = requests.post(f"{api_url}/invocations", data=blob,
                            headers={"Content-Type": "application/octet-stream"}, timeout=TIMEOUT)
    direct = requests.post(f"{model_url}/invocations", data=blob,
                           headers={"Content-Type": "application/octet-stream"}, timeout=TIMEOUT)
    assert direct.status_code >= 400
    assert via_api.status_code == direct.status_code, via_api.text
    assert via_api.json()["error"]["message"] == direct.text.strip()[:1024]
