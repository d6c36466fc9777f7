"""The function as a real Lambda process: its binary against the local Runtime API emulator and a
fake SageMaker (bench/harness), as Lambda runs it.

- SAGEFRONT_FUNCTION_BOOTSTRAP: the deployment package's `bootstrap` (release, arm64, built by
  scripts/package exactly as it ships), run under qemu-user (`qemu-aarch64-static` with the arm64
  C library of Debian's libc6-arm64-cross) on an x86_64 machine;
- SAGEFRONT_FUNCTION_DEBUG_BIN: the debug build (`cargo test` builds it), for the memory tests,
  where qemu's own memory would blur the function's.

scripts/test.d/40-package.sh sets both and installs qemu.
"""

from __future__ import annotations

import base64
import json
import os
import platform
import shutil
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT / "bench"))

from harness import functions  # noqa: E402
from harness.fake_sagemaker import FakeSageMaker  # noqa: E402

ARM64_SYSROOT = Path("/usr/aarch64-linux-gnu")


def _required_path(variable: str) -> Path:
    value = os.environ.get(variable)
    if not value:
        pytest.fail(f"{variable} is not set: run these tests through `scripts/test package`")
    path = Path(value)
    if not path.is_file():
        pytest.fail(f"{variable}={value} does not exist")
    return path


@pytest.fixture(scope="session")
def bootstrap_argv() -> list[str]:
    """How to run the shipped arm64 `bootstrap` here: natively on arm64, else under qemu-user."""
    bootstrap = _required_path("SAGEFRONT_FUNCTION_BOOTSTRAP")
    if platform.machine() in ("aarch64", "arm64"):
        return [str(bootstrap)]
    qemu = shutil.which("qemu-aarch64-static") or shutil.which("qemu-aarch64")
    if qemu is None or not (ARM64_SYSROOT / "lib" / "ld-linux-aarch64.so.1").exists():
        pytest.fail("qemu-user and libc6-arm64-cross are needed to run the arm64 package here")
    return [qemu, "-L", str(ARM64_SYSROOT), str(bootstrap)]


@pytest.fixture(scope="session")
def debug_binary() -> Path:
    return _required_path("SAGEFRONT_FUNCTION_DEBUG_BIN")


@pytest.fixture
def sagemaker():
    fake = FakeSageMaker()
    yield fake
    fake.close()


def spawn(argv, sagemaker_url, workdir: Path, extra_env=None, preexec_fn=None, memory_mb=512):
    """The function process with Lambda's environment for a `memory_mb` MB function."""
    env = functions.lambda_env(
        "bench-5",
        sagemaker_url,
        str(workdir),
        {
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(memory_mb),
            "AWS_LAMBDA_LOG_FORMAT": "JSON",
            "LAMBDA_TASK_ROOT": str(workdir),
            **(extra_env or {}),
        },
    )
    return functions.FunctionProcess(
        "rust", list(argv), env, workdir, workdir / "function.log", preexec_fn=preexec_fn
    )


def rest_event(method, path, body=None, content_type=None, base64_encoded=False, headers=None):
    """An API Gateway REST (v1) proxy event, as API Gateway sends it for the `/{proxy+}` route."""
    event = json.loads(functions._apigw_event(method, path, None))
    hdrs = dict(event["headers"])
    if content_type:
        hdrs["Content-Type"] = content_type
    hdrs.update(headers or {})
    event["headers"] = hdrs
    event["multiValueHeaders"] = {k: [v] for k, v in hdrs.items()}
    if isinstance(body, bytes):
        body = base64.b64encode(body).decode() if base64_encoded else body.decode()
    event["body"] = body
    event["isBase64Encoded"] = base64_encoded
    return json.dumps(event).encode()


def answer(inv):
    """The proxy response of an invocation that was answered (not an invocation error)."""
    assert inv.outcome == "response", inv.body[:500]
    resp = inv.json()
    body = resp.get("body") or ""
    if resp.get("isBase64Encoded"):
        body = base64.b64decode(body).decode()
    resp["json"] = json.loads(body) if body.startswith(("{", "[")) else None
    return resp
