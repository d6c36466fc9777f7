"""scripts/predict: classify an image with a sagefront API and print the top-k as a table."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
import sagefront_client as client  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(prog="scripts/predict", description=__doc__)
    parser.add_argument("image", type=Path, help="a JPEG, PNG, WebP, GIF or BMP file")
    parser.add_argument("--k", type=int, default=None, help="how many classes (default: the API's)")
    parser.add_argument("--url", default=os.environ.get("API_URL", client.DEFAULT_URL),
                        help="the API's base URL (default: $API_URL or the local stack)")
    parser.add_argument("--api-key", default=os.environ.get("API_KEY"), help="x-api-key (default: $API_KEY)")
    parser.add_argument("--raw", action="store_true", help="send raw bytes instead of base64 JSON")
    args = parser.parse_args()

    try:
        data = args.image.read_bytes()
    except OSError as err:
        print(f"error: cannot read {args.image}: {err.strerror}", file=sys.stderr)
        return 2
    if len(data) > client.UPLOAD_LIMIT_BYTES:
        shrunk = client.shrink(data)
        print(f"note: {args.image} is {len(data) / 1e6:.1f} MB, over the {client.UPLOAD_LIMIT_BYTES / 1e6:.1f} MB "
              f"upload limit; sending a downscaled JPEG of {len(shrunk) / 1e6:.1f} MB instead", file=sys.stderr)
        data = shrunk

    try:
        reply = client.predict(args.url, data, k=args.k, api_key=args.api_key, raw=args.raw)
    except OSError as err:
        print(f"error: cannot reach {args.url}: {err}", file=sys.stderr)
        return 1
    body = reply.json
    if reply.status != 200 or not isinstance(body, dict) or "predictions" not in body:
        err = (body or {}).get("error", {}) if isinstance(body, dict) else {}
        detail = f"{err.get('code')}: {err.get('message')}" if err else reply.body[:200].decode(errors="replace")
        print(f"error: HTTP {reply.status} {detail} (x-request-id {reply.headers.get('x-request-id', '-')})",
              file=sys.stderr)
        return 1

    print(f"{'rank':>4}  {'index':>5}  {'probability':>11}  label")
    for rank, p in enumerate(body["predictions"], start=1):
        print(f"{rank:>4}  {p['index']:>5}  {p['probability']:>11.4f}  {p.get('label', '')}")
    print(f"({len(body['predictions'])} of {body['classes']} classes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
