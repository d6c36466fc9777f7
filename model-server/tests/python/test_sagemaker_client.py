"""A real SageMaker Runtime client (boto3) against a running model server."""

from __future__ import annotations

import json

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError


@pytest.fixture(scope="module")
def runtime(server_url):
    return boto3.client(
        "sagemaker-runtime",
        endpoint_url=server_url,
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
        config=Config(retries={"max_attempts": 1}),
    )


def test_invoke_endpoint_returns_1000_probabilities(runtime, sample_images, labels):
    response = runtime.invoke_endpoint(
        EndpointName="sagefront-local",
        ContentType="image/jpeg",
        Body=(sample_images / "china.jpg").read_bytes(),
    )
    assert response["ContentType"] == "application/json"
    assert response["InvokedProductionVariant"] == "AllTraffic"
    probabilities = json.loads(response["Body"].read())
    assert len(probabilities) == 1000
    assert abs(sum(probabilities) - 1.0) < 1e-4
    assert labels[max(range(1000), key=probabilities.__getitem__)] == "palace"


def test_invoke_endpoint_json_lines(runtime, sample_images):
    response = runtime.invoke_endpoint(
        EndpointName="sagefront-local",
        ContentType="application/x-image",
        Accept="application/jsonlines",
        Body=(sample_images / "flower.jpg").read_bytes(),
    )
    assert response["ContentType"] == "application/jsonlines"
    line = json.loads(response["Body"].read())
    assert len(line["prediction"]) == 1000


def test_unknown_endpoint_is_a_validation_error(runtime, sample_images):
    with pytest.raises(ClientError) as info:
        runtime.invoke_endpoint(
            EndpointName="no-such-endpoint", ContentType="image/jpeg", Body=b"\xff\xd8\xff"
        )
    error = info.value.response["Error"]
    assert error["Code"] == "ValidationError"
    assert error["Message"] == "Endpoint no-such-endpoint of account 000000000000 not found."
    assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


def test_corrupt_image_is_a_model_error(runtime):
    with pytest.raises(runtime.exceptions.ModelError) as info:
        runtime.invoke_endpoint(EndpointName="sagefront-local", ContentType="image/png", Body=b"not a png")
    response = info.value.response
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 424
    assert response["OriginalStatusCode"] == 400
    assert "Received client error (400)" in response["Error"]["Message"]
    assert response["LogStreamArn"].endswith("/aws/sagemaker/Endpoints/sagefront-local")
