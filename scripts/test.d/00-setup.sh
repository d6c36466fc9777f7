#!/usr/bin/env bash
# Installs everything the tests need: Python tools, the arm64 Rust target, Node packages and the
# converted model. Each installer is a no-op when its work is already done.
set -euo pipefail
source "$(dirname "$0")/../lib/common.sh"
cd "$ROOT"

ensure_venv
ensure_rust_targets
ensure_node_modules
scripts/fetch-model "$CACHE/model"
