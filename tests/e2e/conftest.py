"""Fixtures for end-to-end tests against a running local stack (started by scripts/test.d/60-e2e.sh).

STACK_API_URL: the function under cargo lambda watch; STACK_MODEL_URL: model-server;
STACK_ENDPOINT_NAME: the endpoint model-server serves; STACK_MODEL_PIDFILE: model-server's current
PID (scripts/lib/stack.sh stops whatever PID it names); STACK_MODEL_LOG: model-server's output.
"""

import copy
import io
import os
import pathlib
import signal
import subprocess
import time

import pytest
import requests
import yaml

ROOT = pathlib.Path(__file__).resolve().parents[2]


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "restarts_model_server: stops and restarts model-server; runs after every other test"
    )


def pytest_collection_modifyitems(config, items):
    """Tests that restart model-server run last: the others, the load test's memory checks above
    all, then see one long-running server that has reached its steady state."""
    items.sort(key=lambda item: item.get_closest_marker("restarts_model_server") is not None)


def _env(name: str) -> str:
    value = os.environ.get(name)
    if not value:
        pytest.fail(f"{name} is not set: run these tests through `scripts/test e2e`")
    return value


@pytest.fixture(scope="session")
def api_url() -> str:
    return _env("STACK_API_URL").rstrip("/")


@pytest.fixture(scope="session")
def model_url() -> str:
    return _env("STACK_MODEL_URL").rstrip("/")


@pytest.fixture(scope="session")
def endpoint_name() -> str:
    return _env("STACK_ENDPOINT_NAME")


def sklearn_image(name: str) -> bytes:
    import sklearn.datasets as d

    return (pathlib.Path(d.__file__).parent / "images" / name).read_bytes()


@pytest.fixture(scope="session")
def china() -> bytes:
    return sklearn_image("china.jpg")


@pytest.fixture(scope="session")
def flower() -> bytes:
    return sklearn_image("flower.jpg")


def generated(fmt: str, size=(320, 240)) -> bytes:
    """A synthetic gradient image in `fmt` (PNG, JPEG, WEBP, GIF, BMP)."""
    from PIL import Image

    img = Image.new("RGB", size)
    img.putdata([((x * 255) // size[0], (y * 255) // size[1], 128) for y in range(size[1]) for x in range(size[0])])
    out = io.BytesIO()
    img.save(out, fmt)
    return out.getvalue()


class Contract:
    """Response schemas from openapi.yaml, with local $refs inlined."""

    def __init__(self) -> None:
        self.spec = yaml.safe_load((ROOT / "openapi.yaml").read_text())

    def _inline(self, node):
        if isinstance(node, dict):
            if "$ref" in node:
                target = self.spec
                for part in node["$ref"].lstrip("#/").split("/"):
                    target = target[part]
                return self._inline(copy.deepcopy(target))
            return {k: self._inline(v) for k, v in node.items()}
        if isinstance(node, list):
            return [self._inline(v) for v in node]
        return node

    def schema(self, name: str) -> dict:
        return self._inline(self.spec["components"]["schemas"][name])

    def validate(self, instance, name: str) -> None:
        from openapi_schema_validator import OAS30Validator

        OAS30Validator(self.schema(name)).validate(instance)


@pytest.fixture(scope="session")
def contract() -> Contract:
    return Contract()


class ModelServer:
    """The stack's model-server process, which a test may stop and start again.

    It restarts with the same command line, environment and working directory, as a session
    leader like the original, and records its new PID in STACK_MODEL_PIDFILE so that later tests
    and the stack's teardown find the process that runs now.
    """

    def __init__(self, url: str, pidfile: str, log: str) -> None:
        self.url, self.pidfile, self.log = url, pathlib.Path(pidfile), log
        self._argv: list[str] | None = None
        self._env: dict[str, str] | None = None
        self._cwd: str | None = None

    @property
    def pid(self) -> int:
        return int(self.pidfile.read_text().strip())

    def _alive(self, pid: int) -> bool:
        try:
            state = pathlib.Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except FileNotFoundError:
            return False
        return state not in ("Z", "X")  # a zombie waits for the script that started it to reap it

    def stop(self) -> None:
        pid = self.pid
        self._argv = pathlib.Path(f"/proc/{pid}/cmdline").read_bytes().rstrip(b"\0").decode().split("\0")
        environ = pathlib.Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
        self._env = dict(e.decode().split("=", 1) for e in environ if b"=" in e)
        self._cwd = os.readlink(f"/proc/{pid}/cwd")
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + 10
        while self._alive(pid):
            if time.monotonic() > deadline:
                os.kill(pid, signal.SIGKILL)
            time.sleep(0.05)

    def start(self) -> None:
        assert self._argv, "start() follows stop()"
        with open(self.log, "ab") as out:
            proc = subprocess.Popen(self._argv, cwd=self._cwd, env=self._env, stdin=subprocess.DEVNULL,
                                    stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        self.pidfile.write_text(f"{proc.pid}\n")
        deadline = time.monotonic() + 120
        while True:
            assert proc.poll() is None, f"model-server exited with {proc.returncode} on restart (see {self.log})"
            try:
                if requests.get(f"{self.url}/ping", timeout=2).status_code == 200:
                    return
            except requests.ConnectionError:
                pass
            assert time.monotonic() < deadline, "model-server did not answer /ping within 120 s of a restart"
            time.sleep(0.2)


@pytest.fixture(scope="session")
def model_server(model_url) -> ModelServer:
    return ModelServer(model_url, _env("STACK_MODEL_PIDFILE"), _env("STACK_MODEL_LOG"))
