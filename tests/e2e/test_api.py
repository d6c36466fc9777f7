"""The API over real HTTP: the function under cargo lambda watch, backed by model-server's real
EfficientNet-Lite0, exactly as `scripts/dev` runs it. Every response is checked against
openapi.yaml."""

import base64
import json

import pytest
import requests

from conftest import generated

TIMEOUT = 60


def post_json(api_url, body, path="/predictions", **kw):
    data = body if isinstance(body, (bytes, str)) else json.dumps(body)
    return requests.post(f"{api_url}{path}", data=data, headers={"Content-Type": "application/json"}, timeout=TIMEOUT, **kw)


def post_raw(api_url, data, content_type, query=""):
    return requests.post(f"{api_url}/predictions{query}", data=data, headers={"Content-Type": content_type}, timeout=TIMEOUT)


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def assert_prediction(resp, contract, k=None):
    assert resp.status_code == 200, resp.text
    assert resp.headers["content-type"].startswith("application/json")
    assert resp.headers.get("x-request-id")
    body = resp.json()
    contract.validate(body, "PredictionResponse")
    assert body["classes"] == 1000
    probs = [p["probability"] for p in body["predictions"]]
    assert probs == sorted(probs, reverse=True)
    if k is not None:
        assert len(body["predictions"]) == k
    return body


def assert_error(resp, contract, status, code):
    assert resp.status_code == status, resp.text
    assert resp.headers.get("x-request-id")
    body = resp.json()
    contract.validate(body, "Error")
    assert body["error"]["code"] == code, body
    assert body["error"]["message"]
    return body


def test_health(api_url):
    resp = requests.get(f"{api_url}/health", timeout=TIMEOUT)
    assert resp.status_code == 200
    assert resp.json() == {"status": "ok"}
    assert resp.headers.get("x-request-id")


def test_json_photo_of_a_palace_gets_palace(api_url, china, contract):
    body = assert_prediction(post_json(api_url, {"image": b64(china), "k": 3}), contract, k=3)
    assert body["predictions"][0]["label"] == "palace"
    assert body["predictions"][0]["index"] == 698


def test_raw_photo_of_a_daisy_gets_daisy(api_url, flower, contract):
    body = assert_prediction(post_raw(api_url, flower, "image/jpeg", "?k=5"), contract, k=5)
    assert body["predictions"][0]["label"] == "daisy"


def test_default_top_k_is_5_locally(api_url, flower, contract):
    assert_prediction(post_raw(api_url, flower, "application/x-image"), contract, k=5)


def test_the_original_request_shape_on_the_root_route(api_url, china, contract):
    # What the 2018 client sent: curl -d '{"data": ..., "topk": ...}' to POST /, no JSON header.
    resp = requests.post(f"{api_url}/", data=json.dumps({"data": b64(china), "topk": 2}),
                         headers={"Content-Type": "application/x-www-form-urlencoded"}, timeout=TIMEOUT)
    body = assert_prediction(resp, contract, k=2)
    assert body["predictions"][0]["label"] == "palace"


def test_wrapped_base64_and_data_urls(api_url, flower, contract):
    wrapped = "\n".join(b64(flower)[i:i + 76] for i in range(0, len(b64(flower)), 76))
    for image in [wrapped, "data:image/jpeg;base64," + b64(flower)]:
        body = assert_prediction(post_json(api_url, {"image": image, "k": 1}), contract, k=1)
        assert body["predictions"][0]["label"] == "daisy"


@pytest.mark.parametrize("fmt,ctype", [("PNG", "image/png"), ("JPEG", "image/jpeg"), ("WEBP", "image/webp")])
def test_generated_images_in_each_raw_format(api_url, contract, fmt, ctype):
    assert_prediction(post_raw(api_url, generated(fmt), ctype, "?k=4"), contract, k=4)


@pytest.mark.parametrize("k,expected", [(1, 1), (999, 999), (1000, 1000), (5000, 1000), (2**64, 1000)])
def test_k_edges(api_url, flower, contract, k, expected):
    assert_prediction(post_json(api_url, {"image": b64(flower), "k": k}), contract, k=expected)


@pytest.mark.parametrize("k", [0, -1, 2.5, 5.0, "5", True, [3], {"n": 3}])
def test_invalid_k(api_url, flower, contract, k):
    assert_error(post_json(api_url, {"image": b64(flower), "k": k}), contract, 400, "invalid_k")


@pytest.mark.parametrize("q", ["0", "abc", "1.5"])
def test_invalid_query_k(api_url, flower, contract, q):
    assert_error(post_raw(api_url, flower, "image/jpeg", f"?k={q}"), contract, 400, "invalid_k")


def test_invalid_json(api_url, contract):
    assert_error(post_json(api_url, b'{"image": '), contract, 400, "invalid_json")
    assert_error(post_json(api_url, b"[1, 2]"), contract, 400, "invalid_json")


def test_missing_image(api_url, contract):
    assert_error(post_json(api_url, {"k": 3}), contract, 400, "missing_image")


def test_invalid_base64(api_url, contract):
    assert_error(post_json(api_url, {"image": "%%% not base64 %%%"}), contract, 400, "invalid_base64")


def test_not_an_image_is_rejected_before_the_model(api_url, contract):
    assert_error(post_json(api_url, {"image": b64(b"just some text, not an image")}), contract, 400, "invalid_image")


def test_a_corrupt_jpeg_is_rejected_by_the_model_as_invalid_image(api_url, contract):
    # Passes the magic-byte check, fails to decode in model-server: SageMaker's ModelError with
    # OriginalStatusCode 400 must come back as the client's 400, not a 502.
    corrupt = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"\x00garbage" * 50
    assert_error(post_raw(api_url, corrupt, "image/jpeg"), contract, 400, "invalid_image")


def test_unsupported_media_type(api_url, contract):
    # A text body: cargo lambda's emulator (like API Gateway without a binary media type) passes
    # text/* as a string, so the bytes must be valid UTF-8 to reach the function at all.
    assert_error(post_raw(api_url, b"a,b,c\n1,2,3\n", "text/csv"), contract, 415, "unsupported_media_type")
    assert_error(post_raw(api_url, b"<image/>", "application/xml"), contract, 415, "unsupported_media_type")


def test_unknown_route_and_wrong_method(api_url, contract):
    assert_error(requests.post(f"{api_url}/nope", data=b"{}", timeout=TIMEOUT), contract, 404, "not_found")
    resp = requests.get(f"{api_url}/predictions", timeout=TIMEOUT)
    assert_error(resp, contract, 405, "method_not_allowed")
    assert resp.headers["allow"] == "POST"


def test_payload_too_large(api_url, contract):
    # Decodes to 6.5 MB, over the default MAX_IMAGE_BYTES (6 MiB), and cannot be decoded as an
    # image, so downscaling (PREPROCESS=oversize) cannot rescue it either.
    big = b"\xff\xd8\xff\xe0" + b"\x00" * 6_500_000
    assert_error(post_json(api_url, {"image": b64(big)}), contract, 413, "payload_too_large")


def test_after_errors_the_api_still_answers_correctly(api_url, china, contract):
    post_json(api_url, b"{")
    post_raw(api_url, b"\xff\xd8\xff garbage", "image/jpeg")
    body = assert_prediction(post_json(api_url, {"image": b64(china), "k": 1}), contract, k=1)
    assert body["predictions"][0]["label"] == "palace"
