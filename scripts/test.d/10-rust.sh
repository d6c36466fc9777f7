#!/usr/bin/env bash
# Formatting, lints and every Rust test (unit, handler, adapter, model-server router tests).
set -euo pipefail
source "$(dirname "$0")/../lib/common.sh"
cd "$ROOT"

log "cargo fmt --check"
cargo fmt --all --check
log "cargo clippy (warnings are errors)"
cargo clippy --workspace --all-targets --locked -- -D warnings
log "cargo test"
cargo test --workspace --locked
