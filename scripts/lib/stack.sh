# The local stack: model-server standing in for SageMaker, and the function as Lambda runs it, its
# binary polling a Runtime API. The Runtime API and the HTTP front (function-URL events on
# /lambda-url/sagefront-function/...) are cargo-lambda's emulator, `cargo lambda watch
# --only-lambda-apis`, which starts no function itself: build_stack builds both binaries in one
# cargo invocation (shared dependencies compile once, with unified features) and start_stack runs
# the function's binary, where `cargo lambda watch` would run a second, function-only `cargo run`
# on the first request. Used by scripts/dev and the end-to-end tests, so both start the same
# thing. Sourced after common.sh, never run.

STACK_ENDPOINT_NAME="sagefront-local"
# The function's name at the emulator: the URL's /lambda-url/NAME and its Runtime API path.
STACK_FUNCTION_NAME="sagefront-function"
STACK_PIDS=()
# model-server's current PID lives in this file, not only in STACK_PIDS: the end-to-end tests
# stop and restart it (tests/e2e/test_faults.py, a refused connection), and stop_stack must then
# stop the process that runs now, not the one it started.
STACK_MODEL_PIDFILE=""
# What callers add to a start_stack (tests/e2e, scripts/dev): model-server's extra arguments
# (MODEL_SERVER_ARGS, one string split on spaces, e.g. "--fault-injection") and the function's
# extra environment (STACK_FUNCTION_ENV, NAME=VALUE words, after the defaults so they win).
MODEL_SERVER_ARGS="${MODEL_SERVER_ARGS:-}"
if ! declare -p STACK_FUNCTION_ENV >/dev/null 2>&1; then STACK_FUNCTION_ENV=(); fi

# port_free PORT: true when a server can listen on 127.0.0.1:PORT. It binds as the servers do
# (tokio sets SO_REUSEADDR), so the TIME-WAIT sockets a stopped stack leaves behind for a minute
# do not count as "in use"; a socket that listens on the port still does.
port_free() {
  python3 - "$1" <<'PY'
import socket, sys
s = socket.socket()
try:
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", int(sys.argv[1])))
    s.listen()
except OSError:
    sys.exit(1)
finally:
    s.close()
PY
}

# build_stack LOG_FILE [CARGO_ARGS...]: builds model-server and the function in one cargo
# invocation (default `build -p sagefront-model-server -p sagefront-function`), the compiler's
# output in LOG_FILE and a progress line every 20 s on stderr (scripts/lib/cargo_build.py). Sets
# STACK_MODEL_BIN and STACK_FUNCTION_BIN to the binaries that build produced.
build_stack() {
  local build_log="$1"; shift
  local args=("$@")
  [ ${#args[@]} -gt 0 ] || args=(build -p sagefront-model-server -p sagefront-function)
  local out
  out="$(python3 "$ROOT/scripts/lib/cargo_build.py" "$build_log" "${args[@]}")" \
    || die "cargo ${args[*]} failed (compiler output: $build_log)"
  STACK_MODEL_BIN="$(awk '$1 == "sagefront-model-server" {print $2}' <<<"$out")"
  STACK_FUNCTION_BIN="$(awk '$1 == "sagefront-function" {print $2}' <<<"$out")"
  [ -x "$STACK_MODEL_BIN" ] && [ -x "$STACK_FUNCTION_BIN" ] \
    || die "cargo ${args[*]} did not report both binaries (got: ${out:-nothing}); see $build_log"
}

# start_stack MODEL_PORT API_PORT LOG_DIR: starts model-server, the emulator and the function,
# each in a process group of its own with its output in LOG_DIR/{model-server,emulator,
# function}.log, and returns when the API answers /health. Uses the binaries build_stack set.
start_stack() {
  local model_port="$1" api_port="$2" log_dir="$3"
  local model_dir="${SAGEFRONT_MODEL_DIR:-$CACHE/model}"
  local model_bin="${STACK_MODEL_BIN:-$CARGO_TARGET_DIR/debug/sagefront-model-server}"
  local function_bin="${STACK_FUNCTION_BIN:-$CARGO_TARGET_DIR/debug/sagefront-function}"
  port_free "$model_port" || die "port $model_port (model-server) is in use: stop what holds it, or set DEV_MODEL_PORT"
  port_free "$api_port" || die "port $api_port (API) is in use: stop what holds it, or set DEV_API_PORT"
  [ -f "$model_dir/model.safetensors" ] || die "no model in $model_dir: run scripts/fetch-model $model_dir"
  [ -x "$model_bin" ] && [ -x "$function_bin" ] || die "no stack binaries ($model_bin, $function_bin): run build_stack first"
  mkdir -p "$log_dir"
  STACK_MODEL_LOG="$log_dir/model-server.log"
  STACK_EMULATOR_LOG="$log_dir/emulator.log"
  STACK_FUNCTION_LOG="$log_dir/function.log"
  STACK_MODEL_URL="http://127.0.0.1:$model_port"
  STACK_API_URL="http://127.0.0.1:$api_port/lambda-url/$STACK_FUNCTION_NAME"

  # shellcheck disable=SC2206 # MODEL_SERVER_ARGS is a list of words by design
  local model_args=(serve --model-dir "$model_dir" --bind 127.0.0.1 --port "$model_port"
    --endpoint-name "$STACK_ENDPOINT_NAME" $MODEL_SERVER_ARGS)
  # The function's environment: what Lambda sets (the name and version cargo-lambda's emulator
  # would set, and its 4096 MB), then the function's own settings, then the caller's additions.
  # Dummy credentials: the SDK signs requests, model-server accepts any signature.
  local function_env=(
    "AWS_LAMBDA_RUNTIME_API=http://127.0.0.1:$api_port/.rt/$STACK_FUNCTION_NAME"
    "AWS_LAMBDA_FUNCTION_NAME=$STACK_FUNCTION_NAME"
    "AWS_LAMBDA_FUNCTION_VERSION=1"
    "AWS_LAMBDA_FUNCTION_MEMORY_SIZE=4096"
    "AWS_REGION=us-east-1"
    "AWS_ACCESS_KEY_ID=local-dummy-key"
    "AWS_SECRET_ACCESS_KEY=local-dummy-secret"
    "AWS_EC2_METADATA_DISABLED=true"
    "AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME=$STACK_MODEL_URL"
    "ENDPOINT_NAME=$STACK_ENDPOINT_NAME"
    "LABELS_PATH=$ROOT/labels/imagenet-1k.txt"
    "DEFAULT_TOP_K=5"
    "${STACK_FUNCTION_ENV[@]}"
  )
  # The function's own default applies unless a caller sets one (the e2e fault tests do).
  if [ -n "${STACK_INVOKE_TIMEOUT_MS:-}" ]; then function_env+=("INVOKE_TIMEOUT_MS=$STACK_INVOKE_TIMEOUT_MS"); fi

  log "starting model-server on $STACK_MODEL_URL (endpoint $STACK_ENDPOINT_NAME)"
  setsid "$model_bin" "${model_args[@]}" >"$STACK_MODEL_LOG" 2>&1 </dev/null &
  STACK_PIDS+=("$!")
  STACK_MODEL_PID="$!"
  STACK_MODEL_PIDFILE="$(mktemp "${TMPDIR:-/tmp}/sagefront-model-server.XXXXXX")"
  echo "$STACK_MODEL_PID" >"$STACK_MODEL_PIDFILE"

  log "starting the Lambda emulator (cargo lambda watch --only-lambda-apis) on 127.0.0.1:$api_port"
  setsid cargo lambda watch --only-lambda-apis --ignore-changes \
    --invoke-address 127.0.0.1 --invoke-port "$api_port" >"$STACK_EMULATOR_LOG" 2>&1 </dev/null &
  STACK_PIDS+=("$!")
  # The function's runtime exits if its first poll finds no Runtime API: wait for the emulator.
  wait_for_port "$api_port" "the Lambda emulator" 60 "$STACK_EMULATOR_LOG"

  log "starting the function ($function_bin)"
  # Under a small supervisor, the leader of the function's process group (STACK_API_PGID): as
  # Lambda starts a new execution environment, it restarts a function that exits after serving;
  # one that exits within 5 s of starting (bad configuration) stays down, and wait_for says so.
  setsid env "${function_env[@]}" bash -c '
    while :; do
      started=$SECONDS
      "$0" && status=0 || status=$?
      [ $((SECONDS - started)) -ge 5 ] || exit "$status"
      echo "stack: the function exited with status $status after $((SECONDS - started)) s; starting it again" >&2
    done' "$function_bin" >"$STACK_FUNCTION_LOG" 2>&1 </dev/null &
  STACK_PIDS+=("$!")
  STACK_API_PGID="$!"

  wait_for "$STACK_MODEL_URL/ping" "model-server" 120 "$STACK_MODEL_LOG"
  wait_for "$STACK_API_URL/health" "the function" 60 "$STACK_FUNCTION_LOG"
}

# stack_died NAME LOG: stops everything and fails, naming the log of the process that died.
stack_died() {
  local name="$1" log_file="$2"
  printf '%s\n' "---- the last lines of $log_file" >&2
  tail -n 20 "$log_file" >&2 || true
  stop_stack
  die "$name did not start (a stack process exited; its output: $log_file)"
}

# stack_alive: true while every process start_stack started still runs.
stack_alive() {
  local pid
  for pid in "${STACK_PIDS[@]}"; do kill -0 "$pid" 2>/dev/null || return 1; done
}

# wait_for_port PORT NAME SECONDS LOG: polls until something accepts connections on 127.0.0.1:PORT.
wait_for_port() {
  local port="$1" name="$2" limit="$3" log_file="$4" start=$SECONDS
  until (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; do
    stack_alive || stack_died "$name" "$log_file"
    [ $((SECONDS - start)) -lt "$limit" ] || die "$name did not listen on port $port within ${limit}s (see $log_file)"
    sleep 0.2
  done
}

# wait_for URL NAME SECONDS LOG: polls until URL answers 200, or a stack process dies.
wait_for() {
  local url="$1" name="$2" limit="$3" log_file="$4" start=$SECONDS
  until curl -fsS -o /dev/null --max-time 5 "$url" 2>/dev/null; do
    stack_alive || stack_died "$name" "$log_file"
    [ $((SECONDS - start)) -lt "$limit" ] || die "$name did not answer $url within ${limit}s (see $log_file)"
    sleep 0.2
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

# stop_stack: TERM to each process group, and to every descendant (a process may have started
# a session of its own, and killing its group alone would orphan it), then KILL whatever is left
# after five seconds.
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
