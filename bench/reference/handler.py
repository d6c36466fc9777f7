"""The original's prediction handler (the 2018 Chalice post), as a plain Python Lambda handler.

This is the benchmark's anchor, so it keeps the original's logic step by step: read the JSON
body, base64-decode ``data``, read ``topk`` (default 257), call ``InvokeEndpoint`` with boto3,
turn the response into a list with ``ast.literal_eval``, then ``numpy.argsort``, reverse and
slice. Only Chalice is gone: the function takes the API Gateway proxy event Chalice would have
received and returns the proxy response Chalice would have built.

One deliberate kindness to the original: the boto3 client is created once at import time (the
usual Lambda advice), not per request. A per-request client would make the reference slower and
the comparison flatter for Rust, not fairer. The response lists the indexes and probabilities as
JSON numbers where the original returned their Python ``str()`` (numpy abbreviates long arrays
with ``...``, which would hide the cost of returning all 21,843 classes).
"""

import ast
import base64
import json
import os

import boto3
import numpy as np

ENDPOINT_NAME = os.environ["ENDPOINT_NAME"]
DEFAULT_TOPK = 257
runtime = boto3.client("sagemaker-runtime")


def _response(status, body):
    return {
        "statusCode": status,
        "headers": {"Content-Type": "application/json"},
        "body": json.dumps(body),
    }


def fn(event, context):
    """Answers one API Gateway proxy event: top-k classes of the posted image."""
    body = json.loads(event.get("body") or "{}")
    if "data" not in body:
        return _response(400, {"Code": "BadRequestError", "Message": "Missing image data"})
    image = base64.b64decode(body["data"])
    topk = int(body.get("topk", DEFAULT_TOPK))
    print("%s %d" % (ENDPOINT_NAME, topk))

    response = runtime.invoke_endpoint(
        EndpointName=ENDPOINT_NAME, ContentType="application/x-image", Body=image
    )
    indexes, probabilities = postprocess(response["Body"].read(), topk)
    return _response(
        200, {"indexes": indexes.tolist(), "probabilities": probabilities.tolist()}
    )


def postprocess(raw, topk):
    """The original's post-processing: ``literal_eval``, ``argsort``, reverse, first ``topk``."""
    probs = ast.literal_eval(raw.decode())
    probs = np.array(probs)
    topk_indexes = probs.argsort()[::-1][:topk]
    return topk_indexes, probs[topk_indexes]
