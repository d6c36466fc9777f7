#!/usr/bin/env bash
# model-server, from Python: the weight converter and label file, the Rust logits against the
# float64 numpy reference (scikit-learn's sample photos and synthetic images), and boto3's
# sagemaker-runtime client and the AWS CLI against the debug binary serving on a free loopback
# port (a plain endpoint, started here; the tests start a second one with --model-name for the
# inference-component rules).
# (The Rust router and model tests run in the rust step, with cargo test.)
set -euo pipefail
source "$(dirname "$0")/../lib/common.sh"
source "$ROOT/scripts/lib/stack.sh"
cd "$ROOT"

ensure_venv
export SAGEFRONT_MODEL_DIR="${SAGEFRONT_MODEL_DIR:-$CACHE/model}"
[ -f "$SAGEFRONT_MODEL_DIR/model.safetensors" ] || die "no model in $SAGEFRONT_MODEL_DIR: run scripts/fetch-model .cache/model"

log "hadolint model-server/Dockerfile"
hadolint model-server/Dockerfile

# The binary of the rust step's `cargo test --workspace --locked` (a no-op build after that step),
# as the e2e step does: a plain `cargo build -p sagefront-model-server` would compile
# model-server and much of its dependency tree a second time, with other features.
build_log="$(mktemp)"
log "cargo test --workspace --no-run (the model-server binary; compiler output: $build_log)"
build_stack "$build_log" test --workspace --no-run --locked
rm -f "$build_log"
BIN="$STACK_MODEL_BIN"
export SAGEFRONT_MODEL_SERVER_BIN="$BIN"

port="$(free_port)"
log "starting model server on 127.0.0.1:$port"
log_file="$(mktemp)"
"$BIN" serve --model-dir "$SAGEFRONT_MODEL_DIR" --bind 127.0.0.1 --port "$port" >"$log_file" 2>&1 &
server_pid=$!
cleanup() {
  kill "$server_pid" 2>/dev/null || true
  wait "$server_pid" 2>/dev/null || true
  rm -f "$log_file"
}
trap cleanup EXIT

for _ in $(seq 1 300); do
  if curl -fsS "http://127.0.0.1:$port/ping" >/dev/null 2>&1; then break; fi
  kill -0 "$server_pid" 2>/dev/null || { cat "$log_file" >&2; die "model server exited early"; }
  sleep 0.1
done
curl -fsS "http://127.0.0.1:$port/ping" >/dev/null || { cat "$log_file" >&2; die "model server not ready"; }

export SAGEFRONT_MODEL_SERVER_URL="http://127.0.0.1:$port"
log "pytest model-server/tests/python"
python3 -m pytest -q -p no:cacheprovider model-server/tests/python || { tail -n 50 "$log_file" >&2; exit 1; }

# Graceful shutdown: SIGTERM ends the server cleanly (exit status 0).
kill -TERM "$server_pid"
status=0
wait "$server_pid" || status=$?
[ "$status" -eq 0 ] || { cat "$log_file" >&2; die "model server exited with $status after SIGTERM"; }
grep -q 'shutdown signal received' "$log_file" || die "no shutdown log line after SIGTERM"
