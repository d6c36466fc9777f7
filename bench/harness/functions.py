"""Running each implementation as a real Lambda process, and reading the kernel's accounting of it.

CPU is the process's CPU-time clock (`clock_getcpuclockid`: user + system, all threads, those
that exited included, in nanoseconds), so a reading brackets any stretch of the process's life
without the 10 ms granularity of `/proc/PID/stat`. Peak RSS is `VmHWM` from `/proc/PID/status`,
cross-checked with `ru_maxrss` from `wait4` at exit.
"""

from __future__ import annotations

import base64
import ctypes
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from .runtime_api import RuntimeApi

ROOT = Path(__file__).resolve().parents[2]
REFERENCE_DIR = ROOT / "bench" / "reference"
TARGET_DIR = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))
RUST_BINARY = TARGET_DIR / "release" / "sagefront-function"
CLK_TCK = os.sysconf("SC_CLK_TCK")

_libc = ctypes.CDLL(None, use_errno=True)


def cpu_clock_id(pid: int) -> int:
    """The CPU-time clock of process `pid` (all its threads)."""
    clock = ctypes.c_int()
    rc = _libc.clock_getcpuclockid(ctypes.c_int(pid), ctypes.byref(clock))
    if rc != 0:
        raise OSError(rc, os.strerror(rc))
    return clock.value


def proc_status_kib(pid: int, field: str) -> Optional[int]:
    """A `kB` field of /proc/PID/status (VmHWM, VmRSS), or None when the process is gone."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except (FileNotFoundError, ProcessLookupError):
        return None
    return None


def proc_user_sys_s(pid: int) -> tuple[float, float]:
    """utime and stime of the whole process from /proc/PID/stat, in seconds (tick granularity)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) / CLK_TCK, int(fields[12]) / CLK_TCK


@dataclass
class Exit:
    returncode: int
    user_s: float
    sys_s: float
    maxrss_kib: int


class FunctionProcess:
    """One Lambda function process bound to its own Runtime API emulator."""

    def __init__(
        self,
        kind: str,
        argv: list[str],
        env: dict,
        cwd: Path,
        log_path: Path,
        first_event: Optional[bytes] = None,
        preexec_fn=None,
    ):
        self.kind = kind
        self.runtime = RuntimeApi()
        # Queued before the spawn, so a cold start is measured from exec to first answer.
        self.first = self.runtime.submit(first_event) if first_event is not None else None
        env = dict(env, AWS_LAMBDA_RUNTIME_API=self.runtime.address)
        self._log = open(log_path, "ab")
        self.spawned_at = time.perf_counter()
        # `preexec_fn` runs in the child before exec (tests use it to join a memory cgroup, so
        # the limit applies from the first allocation).
        self.proc = subprocess.Popen(
            argv,
            env=env,
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=self._log,
            preexec_fn=preexec_fn,
        )
        self.pid = self.proc.pid
        self._clock = cpu_clock_id(self.pid)
        self.runtime.cpu_probe = self.cpu_ns
        self.exit: Optional[Exit] = None

    def cpu_ns(self) -> int:
        return time.clock_gettime_ns(self._clock)

    def alive(self) -> bool:
        return self.proc.poll() is None

    def peak_rss_kib(self) -> Optional[int]:
        return proc_status_kib(self.pid, "VmHWM")

    def stop(self) -> Exit:
        """SIGKILL (as Lambda freezes and later discards the sandbox) and reap with rusage."""
        if self.exit is None:
            try:
                os.kill(self.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            try:
                _, status, ru = os.wait4(self.pid, 0)
                self.proc.returncode = os.waitstatus_to_exitcode(status)
                self.exit = Exit(self.proc.returncode, ru.ru_utime, ru.ru_stime, ru.ru_maxrss)
            except ChildProcessError:  # already reaped by poll()
                self.exit = Exit(self.proc.returncode or 0, 0.0, 0.0, 0)
            self.runtime.close()
            self._log.close()
        return self.exit

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


def lambda_env(endpoint_name: str, sagemaker_url: str, home: str, extra: Optional[dict] = None) -> dict:
    """The environment Lambda gives a 128 MB function, with the bench's SageMaker and dummies.

    HOME points at an empty directory so neither SDK finds profile files (Lambda has none).
    """
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": home,
        "LANG": "C.UTF-8",
        "TZ": ":UTC",
        "AWS_LAMBDA_FUNCTION_NAME": "sagefront-bench",
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "128",
        "AWS_LAMBDA_LOG_GROUP_NAME": "/aws/lambda/sagefront-bench",
        "AWS_LAMBDA_LOG_STREAM_NAME": "2026/01/01/[$LATEST]bench",
        "AWS_REGION": "us-east-1",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "bench-dummy-key",
        "AWS_SECRET_ACCESS_KEY": "bench-dummy-secret",
        "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME": sagemaker_url,
        "ENDPOINT_NAME": endpoint_name,
    }
    env.update(extra or {})
    return env


def spawn_rust(
    endpoint_name: str,
    sagemaker_url: str,
    workdir: Path,
    first_event: Optional[bytes] = None,
    binary: Path = RUST_BINARY,
    kind: str = "rust",
    extra_env: Optional[dict] = None,
) -> FunctionProcess:
    """The Rust function, its release binary as `bootstrap` would run in provided.al2023.

    `kind` names the build (its log is `KIND.log`); `extra_env` is added to Lambda's environment
    (e.g. a glibc malloc tunable)."""
    env = lambda_env(
        endpoint_name,
        sagemaker_url,
        str(workdir),
        # No image decoding: the overhead benchmark sends the bytes through untouched.
        {"PREPROCESS": "off", "LAMBDA_TASK_ROOT": str(workdir), **(extra_env or {})},
    )
    return FunctionProcess(kind, [str(Path(binary).resolve())], env, workdir, workdir / f"{kind}.log", first_event)


def spawn_python(
    endpoint_name: str, sagemaker_url: str, workdir: Path, first_event: Optional[bytes] = None
) -> FunctionProcess:
    """The reference handler under awslambdaric, the runtime interface client AWS publishes."""
    env = lambda_env(
        endpoint_name,
        sagemaker_url,
        str(workdir),
        {
            "LAMBDA_TASK_ROOT": str(REFERENCE_DIR),
            "_HANDLER": "handler.fn",
            "PYTHONDONTWRITEBYTECODE": "1",
        },
    )
    argv = [sys.executable, "-m", "awslambdaric", "handler.fn"]
    return FunctionProcess("python", argv, env, REFERENCE_DIR, workdir / "python.log", first_event)


SPAWNERS = {"rust": spawn_rust, "python": spawn_python}


def is_rust(kind: str) -> bool:
    """Whether `kind` is a build of the Rust function ("rust", "rust-previous", ...)."""
    return kind.startswith("rust")


def fake_image(size: int, seed: int = 7) -> bytes:
    """`size` bytes that start like a JPEG file (the Rust function checks the magic bytes)."""
    header = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"
    body = random.Random(seed).randbytes(max(0, size - len(header)))
    return (header + body)[:size]


def apigw_event(image: bytes, k: int) -> bytes:
    """An API Gateway REST (v1) proxy event for `POST /` with the original's JSON body."""
    return _apigw_event("POST", "/", json.dumps({"data": base64.b64encode(image).decode(), "topk": k}))


def runtime_only_event(kind: str) -> bytes:
    """An event each implementation answers without calling SageMaker: the cost of the Lambda
    runtime, event parsing, routing and the response. Rust: `GET /health`; the Python
    reference has no such route, so: `POST /` without image data (its 400 path)."""
    if is_rust(kind):
        return _apigw_event("GET", "/health", None)
    return _apigw_event("POST", "/", "{}")


def _apigw_event(method: str, path: str, body: Optional[str]) -> bytes:
    return json.dumps(
        {
            "resource": path,
            "path": path,
            "httpMethod": method,
            "headers": {"Content-Type": "application/json", "Host": "bench.execute-api.us-east-1.amazonaws.com"},
            "multiValueHeaders": {
                "Content-Type": ["application/json"],
                "Host": ["bench.execute-api.us-east-1.amazonaws.com"],
            },
            "queryStringParameters": None,
            "multiValueQueryStringParameters": None,
            "pathParameters": None,
            "stageVariables": None,
            "requestContext": {
                "resourcePath": path,
                "httpMethod": method,
                "path": "/prod" + path,
                "stage": "prod",
                "requestId": "bench-request",
                "accountId": "123456789012",
                "apiId": "bench",
                "protocol": "HTTP/1.1",
                "identity": {"sourceIp": "127.0.0.1", "userAgent": "bench"},
                "requestTimeEpoch": 0,
            },
            "body": body,
            "isBase64Encoded": False,
        }
    ).encode()


def scratch_dir() -> Path:
    return Path(tempfile.mkdtemp(prefix="sagefront-bench-"))
