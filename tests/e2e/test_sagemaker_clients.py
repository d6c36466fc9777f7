"""Real SageMaker Runtime clients against model-server: boto3 and the AWS CLI, exactly as they
talk to SageMaker (SigV4-signed InvokeEndpoint), pointed at localhost with --endpoint-url.

The local stack's model-server stands in for an endpoint with inference components: it starts
with `--model-name sagefront-classifier,sagefront-classifier-b` (scripts/test.d/60-e2e.sh), so every
invocation names one of them, as on such an endpoint in SageMaker.
"""

import json
import os
import pathlib
import subprocess
import time
import uuid

import boto3
import botocore.exceptions
import pytest

DUMMY_ENV = {"AWS_ACCESS_KEY_ID": "local-dummy-key", "AWS_SECRET_ACCESS_KEY": "local-dummy-secret",
             "AWS_DEFAULT_REGION": "us-east-1", "AWS_EC2_METADATA_DISABLED": "true"}
COMPONENT = "sagefront-classifier"
OTHER_COMPONENT = "sagefront-classifier-b"
IC_MISSING = ("Inference Component Name header is required for endpoints to which you plan to deploy "
              "inference components. Please include Inference Component Name header or consider using "
              "SageMaker models.")


def runtime(model_url):
    return boto3.client("sagemaker-runtime", endpoint_url=model_url, region_name="us-east-1",
                        aws_access_key_id="local-dummy-key", aws_secret_access_key="local-dummy-secret")


def logged_request(log: str, inference_id: str, timeout: float = 5.0) -> dict:
    """model-server's JSON request log line for `inference_id` (it is written as the answer
    leaves, so a short wait covers the file catching up)."""
    deadline = time.monotonic() + timeout
    while True:
        for line in pathlib.Path(log).read_text(encoding="utf-8", errors="replace").splitlines():
            try:
                entry = json.loads(line)
            except ValueError:
                continue
            if entry.get("message") == "request" and entry.get("inference_id") == inference_id:
                return entry
        assert time.monotonic() < deadline, f"no request line with inference_id={inference_id} in {log}"
        time.sleep(0.1)


def test_boto3_invoke_endpoint_returns_1000_probabilities(model_url, endpoint_name, china):
    resp = runtime(model_url).invoke_endpoint(EndpointName=endpoint_name, InferenceComponentName=COMPONENT,
                                              ContentType="application/x-image", Accept="application/json",
                                              Body=china)
    probs = json.loads(resp["Body"].read())
    assert len(probs) == 1000
    assert abs(sum(probs) - 1.0) < 1e-3
    assert max(range(1000), key=probs.__getitem__) == 698  # palace
    assert resp["InvokedProductionVariant"] == "AllTraffic"


def test_boto3_sees_model_error_for_a_corrupt_image(model_url, endpoint_name):
    with pytest.raises(botocore.exceptions.ClientError) as err:
        runtime(model_url).invoke_endpoint(EndpointName=endpoint_name, InferenceComponentName=COMPONENT,
                                           ContentType="image/jpeg", Body=b"\xff\xd8\xff\xe0 not really a jpeg")
    assert err.value.response["Error"]["Code"] == "ModelError"
    assert err.value.response["OriginalStatusCode"] == 400


def test_boto3_sees_the_models_own_415_for_a_json_body(model_url, endpoint_name):
    with pytest.raises(botocore.exceptions.ClientError) as err:
        runtime(model_url).invoke_endpoint(EndpointName=endpoint_name, InferenceComponentName=COMPONENT,
                                           ContentType="application/json", Body=b'{"inputs": "hello"}')
    response = err.value.response
    assert response["Error"]["Code"] == "ModelError"
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 424
    assert response["OriginalStatusCode"] == 415
    assert json.loads(response["OriginalMessage"])["message"].startswith('unsupported content type "application/json"')


def test_boto3_inference_id_is_logged_and_custom_attributes_come_back(model_url, endpoint_name, flower, model_server):
    inference_id = f"e2e-{uuid.uuid4()}"
    resp = runtime(model_url).invoke_endpoint(EndpointName=endpoint_name, InferenceComponentName=OTHER_COMPONENT,
                                              TargetVariant="AllTraffic", InferenceId=inference_id,
                                              CustomAttributes="trace=e2e; accept_eula=true",
                                              ContentType="image/jpeg", Body=flower)
    assert resp["CustomAttributes"] == "trace=e2e; accept_eula=true"
    assert max(range(1000), key=json.loads(resp["Body"].read()).__getitem__) == 985  # daisy
    line = logged_request(model_server.log, inference_id)
    assert line["status"] == 200
    assert line["inference_component"] == OTHER_COMPONENT
    assert line["target_variant"] == "AllTraffic"


def test_boto3_without_an_inference_component_is_refused(model_url, endpoint_name, flower):
    with pytest.raises(botocore.exceptions.ClientError) as err:
        runtime(model_url).invoke_endpoint(EndpointName=endpoint_name, ContentType="image/jpeg", Body=flower)
    assert err.value.response["Error"]["Code"] == "ValidationError"
    assert err.value.response["Error"]["Message"] == IC_MISSING
    assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


def test_boto3_unknown_inference_component_is_a_validation_error(model_url, endpoint_name, flower):
    with pytest.raises(botocore.exceptions.ClientError) as err:
        runtime(model_url).invoke_endpoint(EndpointName=endpoint_name, InferenceComponentName="no-such-component",
                                           ContentType="image/jpeg", Body=flower)
    assert err.value.response["Error"]["Code"] == "ValidationError"
    assert err.value.response["Error"]["Message"] == "Inference Component no-such-component of account 000000000000 not found."


def aws_cli(*args, tmp_path):
    env = {**os.environ, **DUMMY_ENV, "AWS_CONFIG_FILE": str(tmp_path / "none"), "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "none")}
    return subprocess.run(["aws", *args], capture_output=True, text=True, env=env, timeout=120)


def test_aws_cli_invoke_endpoint(model_url, endpoint_name, flower, tmp_path, model_server):
    image = tmp_path / "flower.jpg"
    image.write_bytes(flower)
    out = tmp_path / "out.json"
    inference_id = f"e2e-cli-{uuid.uuid4()}"
    proc = aws_cli("sagemaker-runtime", "invoke-endpoint", "--endpoint-url", model_url,
                   "--endpoint-name", endpoint_name, "--inference-component-name", COMPONENT,
                   "--inference-id", inference_id, "--custom-attributes", "trace=cli",
                   "--content-type", "image/jpeg", "--body", f"fileb://{image}", str(out), tmp_path=tmp_path)
    assert proc.returncode == 0, proc.stderr
    metadata = json.loads(proc.stdout)
    assert metadata["ContentType"].startswith("application/json")
    assert metadata["CustomAttributes"] == "trace=cli"
    probs = json.loads(out.read_text())
    assert len(probs) == 1000
    assert max(range(1000), key=probs.__getitem__) == 985  # daisy
    assert logged_request(model_server.log, inference_id)["inference_component"] == COMPONENT


def test_aws_cli_unknown_endpoint_is_a_validation_error(model_url, flower, tmp_path):
    image = tmp_path / "flower.jpg"
    image.write_bytes(flower)
    proc = aws_cli("sagemaker-runtime", "invoke-endpoint", "--endpoint-url", model_url,
                   "--endpoint-name", "no-such-endpoint", "--inference-component-name", COMPONENT,
                   "--content-type", "image/jpeg",
                   "--body", f"fileb://{image}", str(tmp_path / "out.json"), tmp_path=tmp_path)
    assert proc.returncode != 0
    assert "ValidationError" in proc.stderr and "no-such-endpoint" in proc.stderr, proc.stderr
