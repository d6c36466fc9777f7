#!/usr/bin/env bash
# End to end over real HTTP: starts the local stack as scripts/dev does (model-server, cargo-lambda's
# Lambda emulator and the function; scripts/lib/stack.sh), on free ports, then runs tests/e2e (the
# API with real photos and every error row, checked against openapi.yaml; boto3 and the AWS CLI
# against model-server; the scripts), schemathesis (generated requests, every response
# conforming, no 5xx) and the smoke test. The stack is torn down on success and on failure.
set -euo pipefail
source "$(dirname "$0")/../lib/common.sh"
source "$ROOT/scripts/lib/stack.sh"
cd "$ROOT"
ensure_venv

logs="$(mktemp -d)"
on_exit() {
  local rc=$?
  stop_stack
  if [ "$rc" != 0 ]; then
    for f in "$logs"/*.log; do echo "---- $f (last 40 lines)" >&2; tail -n 40 "$f" >&2; done
  fi
  rm -rf "$logs"
}
trap on_exit EXIT

# The binaries of the rust step's `cargo test --workspace --locked`: after that step this build is a
# no-op. (`cargo test` unifies the dev-dependencies' features, e.g. the SDK's test-util, into the
# binaries it builds, so scripts/dev's plain `cargo build` of the two packages would compile much
# of the workspace a second time.)
build_stack "$logs/build.log" test --workspace --no-run --locked
model_port="$(free_port)"
api_port="$(free_port)"
while [ "$api_port" = "$model_port" ]; do api_port="$(free_port)"; done
# As scripts/dev runs it, plus: model-server's test-only fault modes and a short invoke timeout
# for the fault tests (tests/e2e/test_faults.py); model-server standing in for an endpoint with
# two inference components, the function targeting one by default and allow-listing the other
# as `classifier-b` (and `ghost`, a component the endpoint does not have) for
# /models/{name}/invocations (tests/e2e/test_invocations.py, test_sagemaker_clients.py).
STACK_FUNCTION_ENV=(
  "TARGET_INFERENCE_COMPONENT=sagefront-classifier"
  'MODELS={"classifier-b":{"inferenceComponent":"sagefront-classifier-b"},"ghost":{"inferenceComponent":"no-such-component"}}'
)
MODEL_SERVER_ARGS="--fault-injection --model-name sagefront-classifier,sagefront-classifier-b" \
  STACK_INVOKE_TIMEOUT_MS=1500 start_stack "$model_port" "$api_port" "$logs"

export STACK_API_URL STACK_MODEL_URL STACK_ENDPOINT_NAME STACK_MODEL_PIDFILE STACK_MODEL_LOG STACK_API_PGID \
  STACK_FUNCTION_LOG STACK_EMULATOR_LOG STACK_MODEL_BIN STACK_FUNCTION_BIN
python3 -m pytest -q -p no:cacheprovider tests/e2e
# Property-based contract tests: schemathesis generates valid and invalid requests from
# openapi.yaml; every response must conform (status, content type, schema, headers) and none may
# be a 5xx. Bounded and seeded, so a failure reproduces.
log "schemathesis against the local stack (openapi.yaml)"
(cd tests/e2e && SCHEMATHESIS_HOOKS=st_hooks PYTHONPATH=. st run "$ROOT/openapi.yaml" --url "$STACK_API_URL" \
  --checks not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance,response_headers_conformance \
  --max-examples 50 --seed 20261126 --no-color)
log "scripts/smoke-test against the local stack"
scripts/smoke-test "$STACK_API_URL"
