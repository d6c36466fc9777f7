#!/usr/bin/env bash
# Builds the Lambda deployment package exactly as deployments do (release, arm64, zip) and checks
# its size. cargo-lambda-cdk's bundling in the infra step reuses this build (same target dir,
# profile and flags), so CI compiles the release function once.
set -euo pipefail
source "$(dirname "$0")/../lib/common.sh"
cd "$ROOT"
ensure_venv
ensure_rust_targets

scripts/package
