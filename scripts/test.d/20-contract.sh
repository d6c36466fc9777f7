#!/usr/bin/env bash
# The API contract: openapi.yaml is valid and agrees with the function's routes and error codes
# and with the README's API reference.
set -euo pipefail
source "$(dirname "$0")/../lib/common.sh"
cd "$ROOT"
ensure_venv
python3 -m pytest -q -p no:cacheprovider tests/contract
