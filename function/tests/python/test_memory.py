"""Image work within the function's memory, tested as Lambda runs it: the function process (only
it) in a cgroup v1 memory limit equal to its configured Lambda memory, with the CPU share Lambda
gives that memory (1,769 MB = one vCPU).

Work over the budget the function derives from AWS_LAMBDA_FUNCTION_MEMORY_SIZE is refused from the
image header with `400 invalid_size`, and the most expensive work within the budget completes
inside the limit. The control proves the limit bites: the same request with a budget the
function does not have gets the process killed.
"""

from __future__ import annotations

import io
import json
import os
from pathlib import Path

import pytest
from conftest import answer, rest_event, spawn
from PIL import Image

CGROUP_ROOT = Path("/sys/fs/cgroup")
LAMBDA_MB_PER_VCPU = 1769


class LambdaCgroup:
    """A memory limit of `memory_mb` MB (no swap on these machines) and a CPU quota in
    proportion, for one process that joins it before exec."""

    def __init__(self, name: str, memory_mb: int):
        self.memory = CGROUP_ROOT / "memory" / name
        self.cpu = CGROUP_ROOT / "cpu" / name
        for d in (self.memory, self.cpu):
            d.mkdir(exist_ok=True)
        (self.memory / "memory.limit_in_bytes").write_text(str(memory_mb << 20))
        (self.cpu / "cpu.cfs_period_us").write_text("100000")
        (self.cpu / "cpu.cfs_quota_us").write_text(str(100000 * memory_mb // LAMBDA_MB_PER_VCPU))

    def join(self):
        """Runs in the child between fork and exec."""
        pid = str(os.getpid())
        for d in (self.memory, self.cpu):
            (d / "cgroup.procs").write_text(pid)

    def peak_mb(self) -> float:
        return int((self.memory / "memory.max_usage_in_bytes").read_text()) / (1 << 20)

    def oom_kills(self) -> int:
        for line in (self.memory / "memory.oom_control").read_text().splitlines():
            if line.startswith("oom_kill "):
                return int(line.split()[1])
        return 0

    def remove(self):
        for d in (self.memory, self.cpu):
            try:
                d.rmdir()
            except OSError:
                pass


@pytest.fixture
def cgroup(request):
    if not os.access(CGROUP_ROOT / "memory", os.W_OK):
        pytest.fail("these tests need root and cgroup v1's memory and cpu controllers (/sys/fs/cgroup)")
    group = LambdaCgroup(f"sagefront-test-{os.getpid()}-{request.node.name[:40]}", 512)
    yield group
    group.remove()


def png(width: int, height: int, mode: str = "RGBA") -> bytes:
    out = io.BytesIO()
    Image.new(mode, (width, height), (40, 90, 160, 255)[: len(mode)]).save(out, "PNG")
    return out.getvalue()


def progressive_jpeg(width: int, height: int) -> bytes:
    """A 4:4:4 progressive JPEG: the decoder keeps every coefficient until the end."""
    gradient = Image.linear_gradient("L").resize((width, height))
    rgb = Image.merge("RGB", (gradient, gradient.transpose(Image.Transpose.FLIP_LEFT_RIGHT), gradient))
    out = io.BytesIO()
    rgb.save(out, "JPEG", quality=40, progressive=True, subsampling=0)
    return out.getvalue()


def resize_event(image: bytes, query: str):
    event = rest_event("POST", "/resize", image, "image/png", base64_encoded=True)
    parsed = json.loads(event)
    params = dict(pair.split("=") for pair in query.split("&"))
    parsed["queryStringParameters"] = params
    parsed["multiValueQueryStringParameters"] = {k: [v] for k, v in params.items()}
    return json.dumps(parsed).encode()


WIDE = png(65_535, 610)  # 40.0 MP
LARGE = png(8_000, 5_000)  # 40 MP


def test_work_over_the_budget_is_refused_from_the_header_inside_512_mb(debug_binary, sagemaker, cgroup, tmp_path):
    proc = spawn([debug_binary], sagemaker.url, tmp_path, preexec_fn=cgroup.join, memory_mb=512)
    try:
        for image, query in [
            (WIDE, "width=4882&height=8192&fit=exact"),
            (LARGE, "width=8192&height=4882&fit=exact"),
        ]:
            inv = proc.runtime.invoke(resize_event(image, query), timeout=60)
            resp = answer(inv)
            assert resp["statusCode"] == 400, resp
            error = resp["json"]["error"]
            assert error["code"] == "invalid_size"
            assert "416 MB" in error["message"] and "512 MB" in error["message"], error
            assert inv.done_at - inv.delivered_at < 5.0, "refused before decoding"
        assert proc.alive()
        assert cgroup.oom_kills() == 0
    finally:
        proc.stop()


def test_the_costliest_work_within_the_budget_completes_inside_512_mb(debug_binary, sagemaker, cgroup, tmp_path):
    proc = spawn(
        [debug_binary],
        sagemaker.url,
        tmp_path,
        {"PREPROCESS": "always"},
        preexec_fn=cgroup.join,
        memory_mb=512,
    )
    try:
        # 40 MP RGBA: decoded, premultiplied and resized (the resizer's scratch image too).
        resp = answer(proc.runtime.invoke(resize_event(LARGE, "width=800&height=500&format=png"), timeout=300))
        assert resp["statusCode"] == 200, resp
        assert resp["json"]["width"] == 800
        # 40 MP progressive JPEG shrunk for the model: every coefficient held while decoding.
        jpeg = progressive_jpeg(8_000, 5_000)
        assert len(jpeg) < 4_400_000, len(jpeg)
        event = rest_event("POST", "/predictions", jpeg, "image/jpeg", base64_encoded=True)
        resp = answer(proc.runtime.invoke(event, timeout=300))
        assert resp["statusCode"] == 200, resp
        assert sagemaker.last_body[:3] == b"\xff\xd8\xff"
        assert len(sagemaker.last_body) < 200_000, "the model got the shrunk image"
        assert proc.alive()
        assert cgroup.oom_kills() == 0
        print(f"peak memory of the function's cgroup: {cgroup.peak_mb():.0f} MB of 512")
    finally:
        proc.stop()


def test_control_the_limit_kills_a_function_whose_budget_is_larger_than_its_memory(
    debug_binary, sagemaker, cgroup, tmp_path
):
    # The function believes it has 4 GB (so its budget allows the work) but runs in 512 MB.
    proc = spawn([debug_binary], sagemaker.url, tmp_path, preexec_fn=cgroup.join, memory_mb=4096)
    try:
        proc.runtime.submit(resize_event(LARGE, "width=8192&height=4882&fit=exact"))
        returncode = proc.proc.wait(timeout=300)
        assert returncode == -9, "the work the budget refuses at 512 MB does not fit in 512 MB"
        assert cgroup.oom_kills() >= 1
    finally:
        proc.stop()
