"""Real SageMaker Runtime clients against model-server: boto3 and the AWS CLI, exactly as they
talk to SageMaker (SigV4-signed InvokeEndpoint), pointed at localhost with --endpoint-url."""

import json
import os
import subprocess

import boto3
import botocore.exceptions
import pytest

DUMMY_ENV = {"AWS_ACCESS_KEY_ID": "local-dummy-key", "AWS_SECRET_ACCESS_KEY": "local-dummy-secret",
             "AWS_DEFAULT_REGION": "us-east-1", "AWS_EC2_METADATA_DISABLED": "true"}


def runtime(model_url):
    return boto3.client("sagemaker-runtime", endpoint_url=model_url, region_name="us-east-1",
                        aws_access_key_id="local-dummy-key", aws_secret_access_key="local-dummy-secret")


def test_boto3_invoke_endpoint_returns_1000_probabilities(model_url, endpoint_name, china):
    resp = runtime(model_url).invoke_endpoint(EndpointName=endpoint_name, ContentType="application/x-image",
                                              Accept="application/json", Body=china)
    probs = json.loads(resp["Body"].read())
    assert len(probs) == 1000
    assert abs(sum(probs) - 1.0) < 1e-3
    assert max(range(1000), key=probs.__getitem__) == 698  # palace


def test_boto3_sees_model_error_for_a_corrupt_image(model_url, endpoint_name):
    with pytest.raises(botocore.exceptions.ClientError) as err:
        runtime(model_url).invoke_endpoint(EndpointName=endpoint_name, ContentType="image/jpeg",
                                           Body=b"\xff\xd8\xff\xe0 not really a jpeg")
    assert err.value.response["Error"]["Code"] == "ModelError"
    assert err.value.response["OriginalStatusCode"] == 400


def aws_cli(*args, tmp_path):
    env = {**os.environ, **DUMMY_ENV, "AWS_CONFIG_FILE": str(tmp_path / "none"), "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "none")}
    return subprocess.run(["aws", *args], capture_output=True, text=True, env=env, timeout=120)


def test_aws_cli_invoke_endpoint(model_url, endpoint_name, flower, tmp_path):
    image = tmp_path / "flower.jpg"
    image.write_bytes(flower)
    out = tmp_path / "out.json"
    proc = aws_cli("sagemaker-runtime", "invoke-endpoint", "--endpoint-url", model_url,
                   "--endpoint-name", endpoint_name, "--content-type", "image/jpeg",
                   "--body", f"fileb://{image}", str(out), tmp_path=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["ContentType"].startswith("application/json")
    probs = json.loads(out.read_text())
    assert len(probs) == 1000
    assert max(range(1000), key=probs.__getitem__) == 985  # daisy


def test_aws_cli_unknown_endpoint_is_a_validation_error(model_url, flower, tmp_path):
    image = tmp_path / "flower.jpg"
    image.write_bytes(flower)
    proc = aws_cli("sagemaker-runtime", "invoke-endpoint", "--endpoint-url", model_url,
                   "--endpoint-name", "no-such-endpoint", "--content-type", "image/jpeg",
                   "--body", f"fileb://{image}", str(tmp_path / "out.json"), tmp_path=tmp_path)
    assert proc.returncode != 0
    assert "ValidationError" in proc.stderr and "no-such-endpoint" in proc.stderr, proc.stderr
