"""scripts/smoke-test: checks a running sagefront API, local or deployed, in a few requests.

Health; a real photo's prediction (well-formed, sorted, and for the 1000-class ImageNet model a
sensible top-1); the error contract (bad base64 → 400 JSON, unknown route → 404 JSON). Exits
non-zero with a message naming the first failed check.

The API key, for stages that require one, comes from the environment (`SAGEFRONT_API_KEY`): a
command-line argument is readable by every user of the machine (`ps`, /proc/PID/cmdline), the
environment only by the same user. The positional key is still accepted, with a warning.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).parent))
import sagefront_client as client  # noqa: E402

# china.jpg (scikit-learn's sample photo) shows a Chinese temple/palace.
SENSIBLE_TOP1 = {"palace", "monastery", "stupa, tope", "dome", "bell cote, bell cot", "castle", "church, church building", "mosque", "triumphal arch", "boathouse"}


class Failed(Exception):
    pass


def check(cond: bool, what: str) -> None:
    if not cond:
        raise Failed(what)


def sample_photo() -> bytes:
    import sklearn.datasets as d  # ships china.jpg and flower.jpg

    return (pathlib.Path(d.__file__).parent / "images" / "china.jpg").read_bytes()


def run(url: str, api_key: str | None) -> None:
    base = url.rstrip("/")
    keyed = {"x-api-key": api_key} if api_key else {}

    r = client.request("GET", f"{base}/health")
    check(r.status == 200 and r.json == {"status": "ok"}, f"GET /health: expected 200 {{\"status\":\"ok\"}}, got {r.status} {r.body[:200]!r}")
    check("x-request-id" in r.headers, "GET /health: no x-request-id header")
    print(f"ok  GET /health ({r.headers['x-request-id']})")

    r = client.predict(url, sample_photo(), k=5, api_key=api_key, raw=True)
    body = r.json
    check(r.status == 200 and isinstance(body, dict), f"POST /predictions: expected 200, got {r.status} {r.body[:300]!r}")
    preds = body.get("predictions") or []
    check(0 < len(preds) <= 5, f"POST /predictions: expected 1-5 predictions, got {len(preds)}")
    probs = [p["probability"] for p in preds]
    check(probs == sorted(probs, reverse=True), "POST /predictions: predictions are not sorted by probability")
    check(all(0 <= p <= 1 for p in probs), "POST /predictions: a probability is outside [0, 1]")
    top = preds[0]
    if body.get("classes") == 1000:
        check(top.get("label") in SENSIBLE_TOP1, f"POST /predictions: top-1 for a photo of a Chinese palace is {top.get('label')!r}")
    print(f"ok  POST /predictions top-1 = {top.get('label', top['index'])} ({top['probability']:.3f}) of {body.get('classes')} classes")

    r = client.request("POST", f"{base}/predictions", json.dumps({"image": "not base64!"}).encode(),
                       {"Content-Type": "application/json", **keyed})
    err = (r.json or {}).get("error", {}) if isinstance(r.json, dict) else {}
    check(r.status == 400 and err.get("code") == "invalid_base64" and err.get("message"),
          f"bad base64: expected 400 invalid_base64 JSON, got {r.status} {r.body[:200]!r}")
    print("ok  bad base64 → 400 invalid_base64")

    r = client.request("POST", f"{base}/no-such-route", b"{}", {"Content-Type": "application/json", **keyed})
    err = (r.json or {}).get("error", {}) if isinstance(r.json, dict) else {}
    check(r.status == 404 and err.get("code") == "not_found", f"unknown route: expected 404 not_found JSON, got {r.status} {r.body[:200]!r}")
    print("ok  unknown route → 404 not_found")


def main() -> int:
    parser = argparse.ArgumentParser(prog="scripts/smoke-test", description=__doc__)
    parser.add_argument("url", help="the API's base URL (the stack's ApiUrl output, or the local API_URL)")
    parser.add_argument("api_key", nargs="?", default=None,
                        help="x-api-key (discouraged: visible in ps; set SAGEFRONT_API_KEY instead)")
    args = parser.parse_args()
    api_key = os.environ.get("SAGEFRONT_API_KEY") or None
    if args.api_key is not None:
        print("warning: an API key on the command line is visible to every user of this machine (ps); "
              "pass it in the SAGEFRONT_API_KEY environment variable instead", file=sys.stderr)
        api_key = args.api_key
    try:
        run(args.url, api_key)
    except Failed as f:
        print(f"FAILED: {f}", file=sys.stderr)
        return 1
    except OSError as e:
        print(f"FAILED: cannot reach {args.url}: {e}", file=sys.stderr)
        return 1
    print(f"smoke test passed: {args.url}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
