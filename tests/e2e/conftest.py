"""Fixtures for end-to-end tests against a running local stack (started by scripts/test.d/60-e2e.sh).

STACK_API_URL: the function under cargo lambda watch; STACK_MODEL_URL: model-server;
STACK_ENDPOINT_NAME: the endpoint model-server serves.
"""

import copy
import io
import os
import pathlib

import pytest
import yaml

ROOT = pathlib.Path(__file__).resolve().parents[2]


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
