"""Shared fixtures for model-server's Python tests: paths, the debug binary, a running server.

Environment (all optional):
  SAGEFRONT_MODEL_DIR          model directory (default: <repo>/.cache/model)
  SAGEFRONT_MODEL_SERVER_BIN   server binary (default: $CARGO_TARGET_DIR/debug/sagefront-model-server)
  SAGEFRONT_MODEL_SERVER_URL   a running server to test (default: start one on a free port)
Tests that need other flags (named models, a variant) start their own server from the binary.
Missing weights or binary fail the tests with the command that makes them; nothing is skipped.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(ROOT / "model-server" / "tools"))


@pytest.fixture(scope="session")
def model_dir() -> Path:
    d = Path(os.environ.get("SAGEFRONT_MODEL_DIR", ROOT / ".cache" / "model"))
    if not (d / "model.safetensors").is_file():
        pytest.fail(f"no weights in {d}: run scripts/fetch-model .cache/model")
    return d


@pytest.fixture(scope="session")
def server_bin() -> Path:
    default = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target")) / "debug" / "sagefront-model-server"
    b = Path(os.environ.get("SAGEFRONT_MODEL_SERVER_BIN", default))
    if not os.access(b, os.X_OK):
        pytest.fail(f"no server binary at {b}: run cargo build -p sagefront-model-server")
    return b


@pytest.fixture(scope="session")
def sample_images() -> Path:
    import sklearn

    return Path(sklearn.__file__).parent / "datasets" / "images"


@pytest.fixture(scope="session")
def labels() -> list[str]:
    return (ROOT / "labels" / "imagenet-1k.txt").read_text(encoding="utf-8").splitlines()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_ready(url: str, proc: subprocess.Popen | None, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            pytest.fail(f"model server exited with {proc.returncode} before it was ready")
        try:
            with urllib.request.urlopen(f"{url}/ping", timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.1)
    pytest.fail(f"model server at {url} not ready after {timeout} s")


class SpawnedServer:
    """A model server this test session started itself, with its own flags and log file."""

    def __init__(self, binary: Path, model_dir: Path, args: list[str], log: Path) -> None:
        self.log = log
        port = _free_port()
        self.url = f"http://127.0.0.1:{port}"
        with open(log, "wb") as out:
            self.proc = subprocess.Popen(
                [str(binary), "serve", "--model-dir", str(model_dir), "--bind", "127.0.0.1",
                 "--port", str(port), "--log-format", "json", *args],
                stdout=out, stderr=subprocess.STDOUT,
            )
        _wait_ready(self.url, self.proc)

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=10)

    def request_lines(self) -> list[dict]:
        """The JSON `request` log lines written so far."""
        import json

        lines = []
        for line in self.log.read_text(encoding="utf-8").splitlines():
            try:
                entry = json.loads(line)
            except ValueError:
                continue
            if entry.get("message") == "request":
                lines.append(entry)
        return lines


@pytest.fixture(scope="session")
def spawn_server(request, tmp_path_factory):
    """Starts the debug binary with extra flags (stopped at the end of the session)."""

    def spawn(*args: str) -> SpawnedServer:
        binary = request.getfixturevalue("server_bin")
        mdir = request.getfixturevalue("model_dir")
        log = tmp_path_factory.mktemp("model-server") / "server.log"
        server = SpawnedServer(binary, mdir, list(args), log)
        request.addfinalizer(server.stop)
        return server

    return spawn


@pytest.fixture(scope="session")
def server_url(request) -> str:
    url = os.environ.get("SAGEFRONT_MODEL_SERVER_URL")
    if url:
        _wait_ready(url.rstrip("/"), None)
        return url.rstrip("/")
    binary = request.getfixturevalue("server_bin")
    mdir = request.getfixturevalue("model_dir")
    port = _free_port()
    proc = subprocess.Popen(
        [str(binary), "serve", "--model-dir", str(mdir), "--bind", "127.0.0.1", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    request.addfinalizer(lambda: (proc.terminate(), proc.wait(timeout=10)))
    url = f"http://127.0.0.1:{port}"
    _wait_ready(url, proc)
    return url
