#!/usr/bin/env bash
# Builds the Lambda deployment package exactly as deployments do (release, arm64, zip), checks
# its size, and runs it as Lambda does: its `bootstrap` against the local Runtime API emulator
# and a fake SageMaker (function/tests/python), under qemu-user on an x86_64 machine — a panic
# is that request's 500 and the process serves on, non-HTTP events fail alone, the deadline
# holds. The memory tests run the debug build (the rust step built it) in a cgroup of the
# function's memory. cargo-lambda-cdk's bundling in the infra step reuses this build (same
# target dir, profile and flags), so CI compiles the release function once.
set -euo pipefail
source "$(dirname "$0")/../lib/common.sh"
cd "$ROOT"
ensure_venv
ensure_rust_targets

scripts/package

# qemu-user and the arm64 C library (Debian/Ubuntu packages), to run the arm64 package here.
if [ "$(uname -m)" != aarch64 ] \
  && ! { command -v qemu-aarch64-static >/dev/null && [ -e /usr/aarch64-linux-gnu/lib/ld-linux-aarch64.so.1 ]; }; then
  log "installing qemu-user-static and libc6-arm64-cross"
  as_root=(); [ "$(id -u)" = 0 ] || as_root=(sudo -n)   # GitHub's runners: passwordless sudo
  "${as_root[@]}" apt-get install -y -qq qemu-user-static libc6-arm64-cross >/dev/null 2>&1 \
    || { "${as_root[@]}" apt-get update -qq \
         && "${as_root[@]}" apt-get install -y -qq qemu-user-static libc6-arm64-cross >/dev/null; }
fi

unpacked="$(mktemp -d)"
trap 'rm -rf "$unpacked"' EXIT
python3 -m zipfile -e "$CARGO_TARGET_DIR/lambda/sagefront-function/bootstrap.zip" "$unpacked"
chmod +x "$unpacked/bootstrap"
export SAGEFRONT_FUNCTION_BOOTSTRAP="$unpacked/bootstrap"
export SAGEFRONT_FUNCTION_DEBUG_BIN="$CARGO_TARGET_DIR/debug/sagefront-function"
[ -x "$SAGEFRONT_FUNCTION_DEBUG_BIN" ] || cargo build -p sagefront-function --locked

log "the package on the Lambda Runtime API (function/tests/python)"
python3 -m pytest -q -p no:cacheprovider --durations=5 function/tests/python
