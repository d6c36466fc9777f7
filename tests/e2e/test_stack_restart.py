"""The local stack starts again at once after a stop, on the same ports (scripts/lib/stack.sh).

A stopped stack leaves TIME-WAIT sockets on its ports for a minute (each server closes its
keep-alive connections as it shuts down). The servers listen with SO_REUSEADDR and do not mind
them; start_stack's port check must not mind them either, or restarting scripts/dev within a
minute of Ctrl-C fails with "port 8080 (model-server) is in use" while nothing listens.

Runs a second stack beside the one the other tests use, with the binaries 60-e2e.sh built.
"""

import json
import os
import re
import socket
import subprocess

from conftest import ROOT

DRIVER = r"""
set -euo pipefail
source scripts/lib/common.sh
source scripts/lib/stack.sh
model_port="$1" api_port="$2" logs="$3"
trap stop_stack EXIT
start_stack "$model_port" "$api_port" "$logs/first"
# `Connection: close` makes each server close the connection itself, so the TIME-WAIT sockets
# are on its port, as after serving real clients.
for _ in 1 2 3; do
  curl -fsS -o /dev/null -H 'Connection: close' "$STACK_MODEL_URL/ping"
  curl -fsS -o /dev/null -H 'Connection: close' "$STACK_API_URL/health"
done
stop_stack
echo "time-wait model $(ss -Htan state time-wait "( sport = :$model_port )" | wc -l)"
echo "time-wait api $(ss -Htan state time-wait "( sport = :$api_port )" | wc -l)"
# What the old check did (bind without SO_REUSEADDR): it would call the port busy now.
if python3 -c 'import socket, sys; socket.socket().bind(("127.0.0.1", int(sys.argv[1])))' "$model_port" 2>/dev/null
then echo "plain bind: free"; else echo "plain bind: busy"; fi
start_stack "$model_port" "$api_port" "$logs/second"
echo "health after restart: $(curl -fsS "$STACK_API_URL/health")"
"""


def two_free_ports() -> tuple[int, int]:
    sockets = [socket.socket() for _ in range(2)]
    try:
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        return tuple(s.getsockname()[1] for s in sockets)
    finally:
        for s in sockets:
            s.close()


def test_the_stack_starts_again_at_once_on_the_same_ports(tmp_path):
    for name in ("STACK_MODEL_BIN", "STACK_FUNCTION_BIN"):
        assert os.environ.get(name), f"{name} is not set: run these tests through `scripts/test e2e`"
    model_port, api_port = two_free_ports()
    proc = subprocess.run(["bash", "-c", DRIVER, "driver", str(model_port), str(api_port), str(tmp_path)],
                          cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    out = proc.stdout
    # The situation of the bug: the stopped servers left TIME-WAIT sockets, and a plain bind
    # (the old check) fails on them...
    assert int(re.search(r"time-wait model (\d+)", out)[1]) >= 1, out
    assert "plain bind: busy" in out, out
    # ...and yet the stack started again, on the same ports, and answers.
    assert "is in use" not in proc.stderr
    health = re.search(r"health after restart: (.*)", out)[1]
    assert json.loads(health) == {"status": "ok"}
    assert f"model-server is up (http://127.0.0.1:{model_port}/ping)" in proc.stderr
    assert f"the function is up (http://127.0.0.1:{api_port}/" in proc.stderr
