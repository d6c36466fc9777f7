"""The API contract (openapi.yaml) against the implementation and the callers' guide.

The spec must be valid OpenAPI 3; its error codes must be exactly the function's (plus
API Gateway's own `forbidden`); and docs/api.md must name every route and code.
Responses of the running stack are checked against the same schemas in tests/e2e.
"""

import re
from pathlib import Path

import yaml
from openapi_spec_validator import validate

ROOT = Path(__file__).resolve().parents[2]
SPEC = yaml.safe_load((ROOT / "openapi.yaml").read_text())
# Codes only API Gateway produces (Gateway Responses), never the function.
# Codes only API Gateway answers with (infra/lib/constructs/inference-api.ts).
GATEWAY_ONLY = {"forbidden", "bad_request"}


def function_error_codes() -> set[str]:
    """The codes `ApiError::code` returns, read from its match arms."""
    source = (ROOT / "function/src/error.rs").read_text()
    body = source.split("pub fn code(&self)", 1)[1].split("\n    }\n", 1)[0]
    codes = set(re.findall(r'=> "([a-z0-9_]+)"', body))
    assert codes, "could not read any code from ApiError::code"
    return codes


def test_spec_is_valid_openapi_3():
    validate(SPEC)


def test_spec_error_codes_are_exactly_the_functions_and_the_gateways():
    spec_codes = set(SPEC["components"]["schemas"]["ErrorCode"]["enum"])
    assert spec_codes == function_error_codes() | GATEWAY_ONLY


def test_every_function_route_is_in_the_spec():
    # The routing table, wherever the function's modules keep it.
    (routes_rs,) = (ROOT / "function/src").glob("**/routes.rs")
    source = routes_rs.read_text()
    routed = set(re.findall(r'"(/[a-z]*)"\s*(?:\||=>)', source))
    assert routed, "could not read the routes from routes.rs"
    assert routed <= set(SPEC["paths"]), routed - set(SPEC["paths"])


def test_api_guide_names_every_route_and_error_code():
    guide = (ROOT / "docs/api.md").read_text()
    for path, ops in SPEC["paths"].items():
        for method in ops:
            assert f"{method.upper()} {path}" in guide, f"docs/api.md lacks {method.upper()} {path}"
    for code in SPEC["components"]["schemas"]["ErrorCode"]["enum"]:
        assert f"`{code}`" in guide, f"docs/api.md lacks error code {code}"
