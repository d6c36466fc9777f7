"""Where the local stack differs from AWS: a body that is not UTF-8 under a text Content-Type.

cargo-lambda's emulator (the local stack's HTTP front) builds the function's event itself, and for
a request with no Content-Type, or one starting with `text/` or `application/json`, it puts the
body in the event as a string. Bytes that are not UTF-8 make it answer 500 on its own, in its own
shape, before the function runs and without a log line. On AWS, the REST API passes such a body to
the function (base64, under the binary media types `*/*` that a stage serving /invocations has),
and the function answers in the contract's shape.

The first test pins the emulator's behaviour, so that a cargo-lambda upgrade that changes it is
noticed (and the docs' note about it revisited); the second shows what the function itself does
with the event API Gateway sends.
"""

import base64
import json
import os
import pathlib
import time
import urllib.parse

import pytest
import requests
from conftest import ROOT

NOT_UTF8 = b'{"image": "\xff\xfe\xfd"}'
EMULATOR_500 = {"type": "https://httpstatuses.com/500", "status": 500, "title": "Internal Server Error"}


def function_log_lines() -> int:
    path = os.environ.get("STACK_FUNCTION_LOG")
    if not path:
        pytest.fail("STACK_FUNCTION_LOG is not set: run these tests through `scripts/test e2e`")
    return len(pathlib.Path(path).read_bytes().splitlines())


@pytest.mark.parametrize("content_type", ["application/json", "application/json; charset=utf-8", "text/plain", None])
def test_the_local_emulator_answers_a_non_utf8_text_body_itself_with_500(api_url, content_type):
    headers = {"Content-Type": content_type} if content_type else {}
    before = function_log_lines()
    session = requests.Session()
    request = requests.Request("POST", f"{api_url}/predictions", data=NOT_UTF8, headers=headers).prepare()
    if content_type is None:
        request.headers.pop("Content-Type", None)
    resp = session.send(request, timeout=30)

    assert resp.status_code == 500
    assert resp.json() == EMULATOR_500  # not the contract's {"error": {...}}
    assert resp.headers["content-type"].startswith("text/plain")
    assert "x-request-id" not in resp.headers  # the function never ran...
    time.sleep(0.5)
    assert function_log_lines() == before  # ...and logged nothing


def test_the_same_bytes_under_a_binary_content_type_reach_the_function(api_url, contract):
    resp = requests.post(f"{api_url}/predictions", data=NOT_UTF8, headers={"Content-Type": "application/octet-stream"},
                         timeout=30)
    assert resp.status_code == 400
    contract.validate(resp.json(), "Error")
    assert resp.json()["error"]["code"] == "invalid_image"
    assert "x-request-id" in resp.headers


def test_the_function_answers_a_non_utf8_json_body_from_api_gateway_in_the_contracts_shape(api_url, contract):
    # The event API Gateway's REST API sends for this request under binary media types */*: the
    # body base64-encoded. Sent to the function through the emulator's Invoke API, which passes an
    # event through untouched.
    event = json.loads((ROOT / "function/tests/data/apigw_rest_predictions_json.json").read_text())
    event["body"] = base64.b64encode(NOT_UTF8).decode()
    event["isBase64Encoded"] = True
    origin = urllib.parse.urlsplit(api_url)
    invoke = f"{origin.scheme}://{origin.netloc}/2015-03-31/functions/sagefront-function/invocations"
    resp = requests.post(invoke, data=json.dumps(event), timeout=30)
    assert resp.status_code == 200, resp.text

    answer = resp.json()  # API Gateway's proxy response: statusCode, headers, body
    headers = {k.lower(): v for k, v in (answer.get("headers") or {}).items()}
    headers.update({k.lower(): v[0] for k, v in (answer.get("multiValueHeaders") or {}).items()})
    assert answer["statusCode"] == 400
    assert headers["content-type"] == "application/json"
    assert "x-request-id" in headers
    body = json.loads(base64.b64decode(answer["body"]) if answer.get("isBase64Encoded") else answer["body"])
    contract.validate(body, "Error")
    assert body["error"]["code"] == "invalid_json"
    assert "not UTF-8" in body["error"]["message"]
