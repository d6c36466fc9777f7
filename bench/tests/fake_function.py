"""A stand-in for the Rust function's binary in the harness's self-test: a Lambda Runtime API
client (standard library only) that answers as the function does (`GET /health` → 200;
`POST /` with `{"data": base64, "topk": k}` → the top k of the fake SageMaker's answer as
`{"predictions": [{"index": ...}]}`), so the harness can run several "builds" without a cargo
build. Started by a one-line executable the tests write, as the harness starts a binary.
"""

from __future__ import annotations

import base64
import http.client
import json
import os
from urllib.parse import urlparse

PREFIX = "/2018-06-01/runtime"


def _answer(event: dict, sagemaker: urlparse, endpoint: str) -> dict:
    if event.get("path") == "/health":
        return {"statusCode": 200, "body": json.dumps({"status": "ok"})}
    body = json.loads(event.get("body") or "{}")
    if "data" not in body:
        return {"statusCode": 400, "body": json.dumps({"error": "missing_image"})}
    image = base64.b64decode(body["data"])
    conn = http.client.HTTPConnection(sagemaker.hostname, sagemaker.port, timeout=10)
    conn.request("POST", f"/endpoints/{endpoint}/invocations", body=image,
                 headers={"Content-Type": "application/x-image"})
    probs = json.loads(conn.getresponse().read())
    conn.close()
    top = sorted(range(len(probs)), key=lambda i: -probs[i])[: int(body.get("topk", 5))]
    return {"statusCode": 200, "body": json.dumps({"predictions": [{"index": i, "probability": probs[i]} for i in top]})}


def main():
    host, port = os.environ["AWS_LAMBDA_RUNTIME_API"].split(":")
    sagemaker = urlparse(os.environ["AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME"])
    endpoint = os.environ["ENDPOINT_NAME"]
    conn = http.client.HTTPConnection(host, int(port))
    while True:
        conn.request("GET", f"{PREFIX}/invocation/next")
        resp = conn.getresponse()
        event = json.loads(resp.read())
        request_id = resp.getheader("Lambda-Runtime-Aws-Request-Id")
        conn.request("POST", f"{PREFIX}/invocation/{request_id}/response",
                     body=json.dumps(_answer(event, sagemaker, endpoint)).encode())
        conn.getresponse().read()


if __name__ == "__main__":
    main()
