"""Image work within the function's memory, tested as Lambda runs it: the function process (only
it) in a cgroup memory limit equal to its configured Lambda memory, with the CPU share Lambda
gives that memory (1,769 MB = one vCPU). Needs root or passwordless sudo.

Work over the budget the function derives from AWS_LAMBDA_FUNCTION_MEMORY_SIZE is refused from the
image header with `400 invalid_size`, and the most expensive work within the budget completes
inside the limit. The control proves the limit bites: the same request with a budget the
function does not have gets the process killed.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from conftest import answer, rest_event, spawn
from PIL import Image

CGROUP_ROOT = Path("/sys/fs/cgroup")
LAMBDA_MB_PER_VCPU = 1769
PERIOD_US = 100_000


def _as_root(*argv: str) -> None:
    """Runs a command as root: directly when we are root, else through passwordless sudo (as on
    GitHub's runners)."""
    if os.geteuid() != 0:
        if shutil.which("sudo") is None:
            pytest.fail("these tests need root (or passwordless sudo) to make a memory cgroup")
        argv = ("sudo", "-n", *argv)
    subprocess.run(argv, check=True, capture_output=True)


def _write(path: Path, value: str) -> None:
    _as_root("sh", "-c", f'echo "{value}" > "{path}"')


class LambdaCgroup:
    """A memory limit of `memory_mb` MB (no swap) and a CPU quota in Lambda's proportion, in
    cgroup v1 (this project's CI machines: `memory` and `cpu` controllers) or v2 (e.g. GitHub's
    runners)."""

    def __init__(self, name: str, memory_mb: int):
        limit, quota = memory_mb << 20, PERIOD_US * memory_mb // LAMBDA_MB_PER_VCPU
        if (CGROUP_ROOT / "memory").is_dir():
            self.v2 = False
            self.dirs = [CGROUP_ROOT / "memory" / name, CGROUP_ROOT / "cpu" / name]
            for d in self.dirs:
                _as_root("mkdir", "-p", str(d))
            _write(self.dirs[0] / "memory.limit_in_bytes", str(limit))
            _write(self.dirs[1] / "cpu.cfs_period_us", str(PERIOD_US))
            _write(self.dirs[1] / "cpu.cfs_quota_us", str(quota))
        elif (CGROUP_ROOT / "cgroup.controllers").exists():
            self.v2 = True
            self.dirs = [CGROUP_ROOT / name]
            _as_root("mkdir", "-p", str(self.dirs[0]))
            _write(self.dirs[0] / "memory.max", str(limit))
            if (self.dirs[0] / "memory.swap.max").exists():
                _write(self.dirs[0] / "memory.swap.max", "0")
            if (self.dirs[0] / "cpu.max").exists():
                _write(self.dirs[0] / "cpu.max", f"{quota} {PERIOD_US}")
        else:
            pytest.fail("no cgroup v1 memory controller and no cgroup v2 hierarchy under /sys/fs/cgroup")

    def join_before_exec(self):
        """As root, the child joins between fork and exec, so even its init is charged here;
        else None, and `adopt` moves it once it runs."""
        if os.geteuid() != 0:
            return None

        def join():
            for d in self.dirs:
                (d / "cgroup.procs").write_text(str(os.getpid()))

        return join

    def adopt(self, pid: int) -> None:
        for d in self.dirs:
            _write(d / "cgroup.procs", str(pid))

    def peak_mb(self) -> float:
        name = "memory.peak" if self.v2 else "memory.max_usage_in_bytes"
        return int((self.dirs[0] / name).read_text()) / (1 << 20)

    def oom_kills(self) -> int:
        name = "memory.events" if self.v2 else "memory.oom_control"
        for line in (self.dirs[0] / name).read_text().splitlines():
            if line.startswith("oom_kill "):
                return int(line.split()[1])
        return 0

    def remove(self):
        for d in self.dirs:
            subprocess.run(["rmdir", str(d)] if os.geteuid() == 0 else ["sudo", "-n", "rmdir", str(d)],
                           capture_output=True)


@pytest.fixture
def cgroup(request):
    group = LambdaCgroup(f"sagefront-test-{os.getpid()}-{request.node.name[:40]}", 512)
    yield group
    group.remove()


def spawn_in(cgroup, binary, sagemaker, workdir, extra_env=None, memory_mb=512):
    """The function in `cgroup` from its start (as root) or before it gets any event."""
    join = cgroup.join_before_exec()
    proc = spawn([binary], sagemaker.url, workdir, extra_env, preexec_fn=join, memory_mb=memory_mb)
    if join is None:
        cgroup.adopt(proc.pid)
    return proc


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
    proc = spawn_in(cgroup, debug_binary, sagemaker, tmp_path)
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
    proc = spawn_in(cgroup, debug_binary, sagemaker, tmp_path, {"PREPROCESS": "always"})
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
    # The function believes it has 4 GB (so its budget allows the work) but runs in 512 MB. The
    # work: a 20000 × 610 RGBA image made 4882 × 8192, whose resizer scratch image alone is
    # 20000 × 8192 × 4 bytes (655 MB); a small input, so the control is quick.
    proc = spawn_in(cgroup, debug_binary, sagemaker, tmp_path, memory_mb=4096)
    try:
        proc.runtime.submit(resize_event(png(20_000, 610), "width=4882&height=8192&fit=exact"))
        returncode = proc.proc.wait(timeout=300)
        assert returncode == -9, "the work the budget refuses at 512 MB does not fit in 512 MB"
        assert cgroup.oom_kills() >= 1
    finally:
        proc.stop()
