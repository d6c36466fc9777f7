# Shared helpers for scripts/*: repo paths, logging and idempotent installers.
# Sourced, never run. Every installer is quick when its work is already done.

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
VENV="$ROOT/.venv"
CACHE="$ROOT/.cache"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"

log() { printf '\033[1;34m==>\033[0m %s\n' "$*" >&2; }
die() { printf '\033[1;31merror:\033[0m %s\n' "$*" >&2; exit 1; }

# duration SECONDS: "42 s" or "3 min 05 s".
duration() {
  if [ "$1" -ge 60 ]; then printf '%d min %02d s' $(($1 / 60)) $(($1 % 60)); else printf '%d s' "$1"; fi
}

# quietly LOG_FILE WHAT CMD...: runs CMD with its output appended to LOG_FILE and, every 20 s
# while it runs, prints "still WHAT" with the time so far: a long step never looks hung and its
# chatter stays out of the terminal. On failure, shows the log's last lines. Returns CMD's status.
quietly() {
  local log_file="$1" what="$2"; shift 2
  local start=$SECONDS status=0 ticker
  mkdir -p "$(dirname "$log_file")"
  # The ticker stops by itself if this shell dies ($$ is the script, even inside the subshell).
  ( while sleep 20; do
      kill -0 $$ 2>/dev/null || exit 0
      printf '    %s: still %s (output: %s)\n' "$(duration $((SECONDS - start)))" "$what" "$log_file" >&2
    done ) &
  ticker=$!
  "$@" >>"$log_file" 2>&1 || status=$?
  kill "$ticker" 2>/dev/null || true
  wait "$ticker" 2>/dev/null || true
  if [ "$status" != 0 ]; then
    printf '%s\n' "---- the last lines of $log_file" >&2
    tail -n 30 "$log_file" >&2
  fi
  return "$status"
}

# Python venv with the tools the scripts need (cargo-lambda, ziglang, model conversion, test
# clients). The weight converter's packages come from model-server/tools/requirements.txt, a
# pip-compile lock installed with --require-hashes (as the Docker build does), the rest from
# requirements-dev.txt. Reinstalls only when either file changes. The venv's bin goes on PATH
# because cargo-lambda finds zig through `python3 -m ziglang`.
ensure_venv() {
  local req="$ROOT/requirements-dev.txt" lock="$ROOT/model-server/tools/requirements.txt"
  local stamp="$VENV/.requirements.sha256"
  local want; want="$(cat "$req" "$lock" | sha256sum | cut -d' ' -f1)"
  if [ ! -x "$VENV/bin/python3" ]; then
    log "creating Python venv in .venv"
    python3 -m venv "$VENV"
  fi
  if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
    local pip_log="$CACHE/logs/pip-install.log"
    log "installing Python tools (model-server/tools/requirements.txt, requirements-dev.txt; output: $pip_log)"
    mkdir -p "$CACHE/logs"
    : >"$pip_log"
    quietly "$pip_log" "installing Python tools" "$VENV/bin/pip" install --disable-pip-version-check --upgrade pip \
      || die "pip could not upgrade itself (see $pip_log)"
    quietly "$pip_log" "installing Python tools" "$VENV/bin/pip" install --disable-pip-version-check \
      --require-hashes --only-binary=:all: -r "$lock" || die "could not install the locked packages of $lock (see $pip_log)"
    quietly "$pip_log" "installing Python tools" "$VENV/bin/pip" install --disable-pip-version-check -r "$req" \
      || die "could not install the packages of $req (see $pip_log)"
    echo "$want" > "$stamp"
  fi
  export PATH="$VENV/bin:$PATH"
}

# The arm64 standard library for the Lambda build (Graviton).
ensure_rust_targets() {
  if ! rustup target list --installed | grep -qx aarch64-unknown-linux-gnu; then
    log "adding Rust target aarch64-unknown-linux-gnu"
    rustup target add aarch64-unknown-linux-gnu
  fi
}

# Node dependencies for the CDK app (package-lock.json is the source of truth).
ensure_node_modules() {
  local stamp="$ROOT/node_modules/.package-lock.sha256"
  local want; want="$(sha256sum "$ROOT/package-lock.json" | cut -d' ' -f1)"
  if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
    log "installing Node dependencies (npm ci)"
    (cd "$ROOT" && npm ci --no-audit --no-fund --loglevel=error)
    echo "$want" > "$stamp"
  fi
}

# A free TCP port on loopback (for tests that start servers).
free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}
