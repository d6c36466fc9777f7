"""Real SageMaker Runtime clients (boto3 and the AWS CLI) against running model servers."""

from __future__ import annotations

import json
import os
import shutil
import subprocess

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


# ---- Targets, inference id and custom attributes ----
#
# `runtime` talks to the plain endpoint (no --model-name): the one scripts/test starts. The
# `components` server is started here with named models and a variant of its own, as an endpoint
# with inference components.

COMPONENTS = ("classifier-a", "classifier-b")
PLAIN_IC_REFUSED = (
    "Inference Component Name header is not allowed for endpoints to which you dont plan to deploy "
    "inference components. Please remove the Inference Component Name header and try again."
)
IC_MISSING = (
    "Inference Component Name header is required for endpoints to which you plan to deploy "
    "inference components. Please include Inference Component Name header or consider using "
    "SageMaker models."
)


@pytest.fixture(scope="module")
def components(spawn_server):
    return spawn_server("--model-name", ",".join(COMPONENTS), "--variant-name", "Blue")


@pytest.fixture(scope="module")
def components_runtime(components):
    return boto3.client(
        "sagemaker-runtime",
        endpoint_url=components.url,
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
        config=Config(retries={"max_attempts": 1}),
    )


def validation_error(info) -> str:
    assert info.value.response["Error"]["Code"] == "ValidationError"
    assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    return info.value.response["Error"]["Message"]


def test_named_inference_component_is_served_with_id_variant_and_custom_attributes(
    components_runtime, components, sample_images, labels
):
    response = components_runtime.invoke_endpoint(
        EndpointName="sagefront-local",
        InferenceComponentName="classifier-b",
        TargetVariant="Blue",
        InferenceId="boto3-ic-0001",
        CustomAttributes="accept_eula=true; trace=abc",
        ContentType="image/jpeg",
        Body=(sample_images / "china.jpg").read_bytes(),
    )
    assert response["InvokedProductionVariant"] == "Blue"
    assert response["CustomAttributes"] == "accept_eula=true; trace=abc"
    probabilities = json.loads(response["Body"].read())
    assert labels[max(range(1000), key=probabilities.__getitem__)] == "palace"
    logged = [l for l in components.request_lines() if l.get("inference_id") == "boto3-ic-0001"]
    assert len(logged) == 1, components.request_lines()
    assert logged[0]["inference_component"] == "classifier-b"
    assert logged[0]["target_variant"] == "Blue"
    assert logged[0]["status"] == 200
    assert "accept_eula" not in components.log.read_text(encoding="utf-8")


def test_target_model_names_a_served_model_too(components_runtime, sample_images):
    response = components_runtime.invoke_endpoint(
        EndpointName="sagefront-local", TargetModel="classifier-a", ContentType="image/jpeg",
        Body=(sample_images / "flower.jpg").read_bytes(),
    )
    assert len(json.loads(response["Body"].read())) == 1000
    assert "CustomAttributes" not in response


def test_missing_inference_component_is_refused_when_the_endpoint_has_components(
    components_runtime, sample_images
):
    with pytest.raises(ClientError) as info:
        components_runtime.invoke_endpoint(
            EndpointName="sagefront-local", ContentType="image/jpeg",
            Body=(sample_images / "flower.jpg").read_bytes(),
        )
    assert validation_error(info) == IC_MISSING


def test_unknown_inference_component_and_variant_are_validation_errors(components_runtime, sample_images):
    body = (sample_images / "flower.jpg").read_bytes()
    with pytest.raises(ClientError) as info:
        components_runtime.invoke_endpoint(
            EndpointName="sagefront-local", InferenceComponentName="classifier-z",
            ContentType="image/jpeg", Body=body,
        )
    assert validation_error(info) == "Inference Component classifier-z of account 000000000000 not found."
    with pytest.raises(ClientError) as info:
        components_runtime.invoke_endpoint(
            EndpointName="sagefront-local", InferenceComponentName="classifier-a",
            TargetVariant="AllTraffic", ContentType="image/jpeg", Body=body,
        )
    assert validation_error(info) == "Target variant AllTraffic not found for endpoint sagefront-local."


def test_plain_endpoint_refuses_inference_component_target_model_and_container(runtime):
    with pytest.raises(ClientError) as info:
        runtime.invoke_endpoint(
            EndpointName="sagefront-local", InferenceComponentName="classifier-a",
            ContentType="image/jpeg", Body=b"\xff\xd8\xff",
        )
    assert validation_error(info) == PLAIN_IC_REFUSED
    with pytest.raises(ClientError) as info:
        runtime.invoke_endpoint(
            EndpointName="sagefront-local", TargetModel="model.tar.gz",
            ContentType="image/jpeg", Body=b"\xff\xd8\xff",
        )
    assert validation_error(info) == (
        "Endpoint sagefront-local is not a multi-model endpoint and does not support target model header."
    )
    with pytest.raises(ClientError) as info:
        runtime.invoke_endpoint(
            EndpointName="sagefront-local", TargetContainerHostname="container-1",
            ContentType="image/jpeg", Body=b"\xff\xd8\xff",
        )
    assert "not configured for direct invocation" in validation_error(info)


def test_inference_id_over_64_characters_is_refused(runtime):
    # botocore checks only the minimum length; the maximum is the service's to enforce.
    with pytest.raises(ClientError) as info:
        runtime.invoke_endpoint(
            EndpointName="sagefront-local", InferenceId="x" * 65, ContentType="image/jpeg",
            Body=b"\xff\xd8\xff",
        )
    assert validation_error(info) == (
        f"1 validation error detected: Value '{'x' * 65}' at 'inferenceId' failed to satisfy "
        "constraint: Member must have length less than or equal to 64"
    )


def test_custom_attributes_over_1024_characters_are_refused(runtime):
    with pytest.raises(ClientError) as info:
        runtime.invoke_endpoint(
            EndpointName="sagefront-local", CustomAttributes="a" * 1025, ContentType="image/jpeg",
            Body=b"\xff\xd8\xff",
        )
    assert validation_error(info) == (
        "1 validation error detected: Value at 'customAttributes' failed to satisfy constraint: "
        "Member must have length less than or equal to 1024"
    )


def test_json_body_is_a_model_error_with_the_models_own_415(runtime):
    with pytest.raises(runtime.exceptions.ModelError) as info:
        runtime.invoke_endpoint(
            EndpointName="sagefront-local", ContentType="application/json", Body=b'{"inputs": "hi"}',
        )
    response = info.value.response
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 424
    assert response["OriginalStatusCode"] == 415
    original = json.loads(response["OriginalMessage"])
    assert original["message"].startswith('unsupported content type "application/json"')
    assert response["Error"]["Message"].startswith(
        f"Received client error (415) from primary with message \"{response['OriginalMessage']}\"."
    )


# ---- The AWS CLI, as a user would run it ----

def aws_cli(*args: str, tmp_path) -> subprocess.CompletedProcess:
    aws = shutil.which("aws")
    assert aws, "the AWS CLI is not on PATH: run through scripts/test (it installs requirements-dev.txt)"
    env = {
        **os.environ, "AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test",
        "AWS_DEFAULT_REGION": "us-east-1", "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_CONFIG_FILE": str(tmp_path / "none"), "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "none"),
    }
    return subprocess.run([aws, "sagemaker-runtime", "invoke-endpoint", *args], capture_output=True,
                          text=True, env=env, timeout=120)


def test_aws_cli_with_inference_component_and_custom_attributes(components, sample_images, tmp_path):
    out = tmp_path / "out.json"
    proc = aws_cli(
        "--endpoint-url", components.url, "--endpoint-name", "sagefront-local",
        "--inference-component-name", "classifier-a", "--target-variant", "Blue",
        "--inference-id", "cli-0001", "--custom-attributes", "trace=cli",
        "--content-type", "image/jpeg", "--body", f"fileb://{sample_images / 'flower.jpg'}", str(out),
        tmp_path=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr
    metadata = json.loads(proc.stdout)
    assert metadata["CustomAttributes"] == "trace=cli"
    assert metadata["InvokedProductionVariant"] == "Blue"
    assert len(json.loads(out.read_text())) == 1000
    assert any(l.get("inference_id") == "cli-0001" and l.get("inference_component") == "classifier-a"
               for l in components.request_lines())


def test_aws_cli_without_inference_component_is_a_validation_error(components, sample_images, tmp_path):
    proc = aws_cli(
        "--endpoint-url", components.url, "--endpoint-name", "sagefront-local",
        "--content-type", "image/jpeg", "--body", f"fileb://{sample_images / 'flower.jpg'}",
        str(tmp_path / "out.json"),
        tmp_path=tmp_path,
    )
    assert proc.returncode != 0
    assert "ValidationError" in proc.stderr and "Inference Component Name header is required" in proc.stderr, proc.stderr
