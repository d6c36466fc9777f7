# The local stack: model-server standing in for SageMaker, and the function under
# `cargo lambda watch` pointed at it. Used by scripts/dev and the end-to-end tests, so both
# start exactly the same thing. Sourced after common.sh, never run.

STACK_ENDPOINT_NAME="sagefront-local"
STACK_PIDS=()
# model-server's current PID lives in this file, not only in STACK_PIDS: the end-to-end tests
# stop and restart it (tests/e2e/test_faults.py, a refused connection), and stop_stack must then
# stop the process that runs now, not the one it started.
STACK_MODEL_PIDFILE=""

# port_free PORT: true when nothing listens on 127.0.0.1:PORT.
port_free() {
  python3 - "$1" <<'PY'
import socket, sys
s = socket.socket()
try:
    s.bind(("127.0.0.1", int(sys.argv[1])))
except OSError:
    sys.exit(1)
finally:
    s.close()
PY
}

# build_stack: debug builds of both binaries. The function is built alone, exactly as
# `cargo lambda watch --package sagefront-function` builds it (features resolve per invocation),
# so the watcher finds it up to date instead of compiling on the first request.
build_stack() {
  log "building sagefront-model-server and sagefront-function (the first build takes a few minutes)"
  cargo build -p sagefront-model-server
  cargo build -p sagefront-function
}

# start_stack MODEL_PORT API_PORT [LOG_DIR]: starts both servers in their own process groups
# and waits until both answer. With LOG_DIR, their output goes to files there.
start_stack() {
  local model_port="$1" api_port="$2" log_dir="${3:-}"
  local model_dir="${SAGEFRONT_MODEL_DIR:-$CACHE/model}"
  port_free "$model_port" || die "port $model_port (model-server) is in use: stop what holds it, or set DEV_MODEL_PORT"
  port_free "$api_port" || die "port $api_port (API) is in use: stop what holds it, or set DEV_API_PORT"
  [ -f "$model_dir/model.safetensors" ] || die "no model in $model_dir: run scripts/fetch-model $model_dir"

  local model_out=/dev/stdout api_out=/dev/stdout
  if [ -n "$log_dir" ]; then model_out="$log_dir/model-server.log"; api_out="$log_dir/function.log"; fi
  STACK_MODEL_LOG="$model_out"

  log "starting model-server on 127.0.0.1:$model_port (endpoint $STACK_ENDPOINT_NAME)"
  setsid "$CARGO_TARGET_DIR/debug/sagefront-model-server" serve --model-dir "$model_dir" \
    --bind 127.0.0.1 --port "$model_port" --endpoint-name "$STACK_ENDPOINT_NAME" \
    ${MODEL_SERVER_ARGS:-} >>"$model_out" 2>&1 &
  STACK_PIDS+=("$!")

  log "starting the function under cargo lambda watch on 127.0.0.1:$api_port"
  # Dummy credentials: the SDK signs requests, model-server accepts any signature.
  setsid cargo lambda watch --package sagefront-function --invoke-address 127.0.0.1 \
    --invoke-port "$api_port" --ignore-changes \
    --env-var "ENDPOINT_NAME=$STACK_ENDPOINT_NAME" \
    --env-var "AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME=http://127.0.0.1:$model_port" \
    --env-var "AWS_REGION=us-east-1" \
    --env-var "AWS_ACCESS_KEY_ID=local-dummy-key" \
    --env-var "AWS_SECRET_ACCESS_KEY=local-dummy-secret" \
    --env-var "AWS_EC2_METADATA_DISABLED=true" \
    --env-var "LABELS_PATH=$ROOT/labels/imagenet-1k.txt" \
    --env-var "DEFAULT_TOP_K=5" \
    --env-var "INVOKE_TIMEOUT_MS=${STACK_INVOKE_TIMEOUT_MS:-25000}" \
    >>"$api_out" 2>&1 &
  STACK_PIDS+=("$!")

  STACK_MODEL_PID="${STACK_PIDS[0]}"
  STACK_MODEL_PIDFILE="$(mktemp "${TMPDIR:-/tmp}/sagefront-model-server.XXXXXX")"
  echo "$STACK_MODEL_PID" >"$STACK_MODEL_PIDFILE"
  STACK_API_PGID="${STACK_PIDS[1]}"
  STACK_MODEL_URL="http://127.0.0.1:$model_port"
  STACK_API_URL="http://127.0.0.1:$api_port/lambda-url/sagefront-function"
  wait_for "$STACK_MODEL_URL/ping" "model-server" 120
  wait_for "$STACK_API_URL/health" "the function" 600
}

# wait_for URL NAME SECONDS: polls until URL answers 200, or a stack process dies.
wait_for() {
  local url="$1" name="$2" limit="$3" start=$SECONDS
  until curl -fsS -o /dev/null --max-time 5 "$url" 2>/dev/null; do
    for pid in "${STACK_PIDS[@]}"; do
      kill -0 "$pid" 2>/dev/null || die "$name did not start (a stack process exited; see its output above)"
    done
    [ $((SECONDS - start)) -lt "$limit" ] || die "$name did not answer $url within ${limit}s"
    sleep 0.5
  done
  log "$name is up ($url)"
}

# descendants PID...: every process below the given ones.
descendants() {
  local pid child
  for pid in "$@"; do
    for child in $(pgrep -P "$pid" 2>/dev/null); do echo "$child"; descendants "$child"; done
  done
}

# stop_stack: TERM to each process group, and to every descendant (cargo-lambda starts the
# function in a session of its own, so killing its group alone could orphan it), then KILL
# whatever is left after five seconds.
stop_stack() {
  local pid
  if [ -n "$STACK_MODEL_PIDFILE" ] && [ -s "$STACK_MODEL_PIDFILE" ] && [ "${#STACK_PIDS[@]}" -gt 0 ]; then
    # A restarted model-server is a session leader of its own, like the one it replaced.
    STACK_PIDS[0]="$(cat "$STACK_MODEL_PIDFILE")"
  fi
  local children=($(descendants "${STACK_PIDS[@]}"))
  for pid in "${STACK_PIDS[@]}"; do kill -TERM -- "-$pid" 2>/dev/null || true; done
  for pid in "${children[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for _ in $(seq 1 50); do
    local alive=0
    for pid in "${STACK_PIDS[@]}"; do kill -0 -- "-$pid" 2>/dev/null && alive=1; done
    for pid in "${children[@]}"; do kill -0 "$pid" 2>/dev/null && alive=1; done
    [ "$alive" = 0 ] && break
    sleep 0.1
  done
  for pid in "${STACK_PIDS[@]}"; do kill -KILL -- "-$pid" 2>/dev/null || true; done
  for pid in "${children[@]}"; do kill -KILL "$pid" 2>/dev/null || true; done
  STACK_PIDS=()
  if [ -n "$STACK_MODEL_PIDFILE" ]; then rm -f "$STACK_MODEL_PIDFILE"; STACK_MODEL_PIDFILE=""; fi
}
