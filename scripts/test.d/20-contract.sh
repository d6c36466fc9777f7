#!/usr/bin/env bash
# The API contract and the docs: openapi.yaml is valid and agrees with the function's routes and
# error codes and with docs/api.md; every relative link of the Markdown resolves in the repository.
set -euo pipefail
source "$(dirname "$0")/../lib/common.sh"
cd "$ROOT"
ensure_venv
python3 -m pytest -q -p no:cacheprovider tests/contract
