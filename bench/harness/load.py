"""Item 7: the local stack under a bounded load with Debian's `wrk`, on loopback.

Posts a real photo (scikit-learn's china.jpg, base64 in the JSON body) to the stack's
`/predictions` from `--connections` connections for a fixed `--duration` (wrk has no request
count; the duration bounds it). wrk's Lua hooks check every response (200 with predictions) and
print the latency percentiles and error counts as JSON.

    python -m harness.load --out RESULTS.json --url http://127.0.0.1:PORT/lambda-url/sagefront-function
"""

from __future__ import annotations

import argparse
import base64
import json
import pathlib
import subprocess
import tempfile
from pathlib import Path
from urllib.parse import urlparse

from .machine import describe

LUA = r"""
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
local f = assert(io.open("%(body)s", "rb"))
wrk.body = f:read("*a")
f:close()

local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  bad = 0
end

function response(status, headers, body)
  if status ~= 200 or not string.find(body, '"predictions"', 1, true) then
    bad = bad + 1
  end
end

function done(summary, latency, requests)
  local bad_total = 0
  for _, t in ipairs(threads) do
    bad_total = bad_total + (t:get("bad") or 0)
  end
  local e = summary.errors
  io.write(string.format(
    'WRK_JSON {"requests": %%d, "duration_us": %%d, "bad_responses": %%d, ' ..
    '"connect_errors": %%d, "read_errors": %%d, "write_errors": %%d, "status_errors": %%d, ' ..
    '"timeouts": %%d, "p50_us": %%d, "p90_us": %%d, "p99_us": %%d, "max_us": %%d, "mean_us": %%.1f}\n',
    summary.requests, summary.duration, bad_total, e.connect, e.read, e.write, e.status,
    e.timeout, latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency.max, latency.mean))
end
"""


def photo() -> bytes:
    import sklearn.datasets as d

    return (pathlib.Path(d.__file__).parent / "images" / "china.jpg").read_bytes()


def run_wrk(url: str, script: Path, connections: int, duration: int) -> dict:
    threads = min(2, connections)
    cmd = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{duration}s", "--timeout", "30s",
           "-s", str(script), url.rstrip("/") + "/predictions"]
    run = subprocess.run(cmd, capture_output=True, text=True, timeout=duration + 60)
    print(run.stdout, flush=True)
    if run.returncode != 0:
        raise SystemExit(f"wrk failed ({run.returncode}): {run.stderr}")
    line = next(l for l in run.stdout.splitlines() if l.startswith("WRK_JSON "))
    result = json.loads(line.removeprefix("WRK_JSON "))
    result |= {
        "command": " ".join(cmd[:-3] + ["post.lua", "URL/predictions"]),
        "connections": connections,
        "threads": threads,
        "duration_s": duration,
        "errors": sum(result[k] for k in ("bad_responses", "connect_errors", "read_errors",
                                          "write_errors", "status_errors", "timeouts")),
        "rps": result["requests"] / (result["duration_us"] / 1e6),
    }
    print(f"[load] {connections} connections: {result['requests']} requests, p50 "
          f"{result['p50_us'] / 1e3:.1f} ms, p99 {result['p99_us'] / 1e3:.1f} ms, errors {result['errors']}",
          flush=True)
    return result


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--url", required=True, help="the stack's API base URL (loopback only)")
    ap.add_argument("--connections", default="1,4", help="comma-separated; one wrk run each")
    ap.add_argument("--duration", type=int, default=20, help="seconds per run")
    args = ap.parse_args(argv)
    host = urlparse(args.url).hostname
    if host not in ("127.0.0.1", "localhost", "::1"):
        raise SystemExit(f"refusing to load {host}: loopback only")

    with tempfile.TemporaryDirectory(prefix="sagefront-wrk-") as tmp:
        image = photo()
        body = Path(tmp, "body.json")
        body.write_text(json.dumps({"image": base64.b64encode(image).decode(), "k": 5}))
        script = Path(tmp, "post.lua")
        script.write_text(LUA % {"body": body})
        runs = [run_wrk(args.url, script, int(c), args.duration) for c in args.connections.split(",")]
    result = {"machine": describe(), "image_bytes": len(image), "duration_s": args.duration, "runs": runs}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
