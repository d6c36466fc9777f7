"""scripts/predict: classify an image with a sagefront API and print the top-k as a table.

Every mistake a user can make (a missing file, a file that is not an image, a bad URL, nothing
listening, an error from the API) ends in one line on stderr that says what went wrong, and a
non-zero exit status: 2 for what is wrong before any request, 1 when the request fails.
"""

from __future__ import annotations

import argparse
import os
import sys
import urllib.parse
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
import sagefront_client as client  # noqa: E402

IMAGE_TYPES = "a JPEG, PNG, WebP, GIF or BMP file"


class Refused(Exception):
    """A user's mistake: the message is the whole story, and the exit status goes with it."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


def read_image(path: Path) -> bytes:
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise Refused(f"{path}: no such file", 2) from None
    except IsADirectoryError:
        raise Refused(f"{path} is a directory, not an image", 2) from None
    except OSError as err:
        raise Refused(f"cannot read {path}: {err.strerror or err}", 2) from None
    if not data:
        raise Refused(f"{path} is empty", 2)
    if client.image_type(data) is None:
        raise Refused(f"{path} is not an image: expected {IMAGE_TYPES}", 2)
    if len(data) > client.UPLOAD_LIMIT_BYTES:
        try:
            shrunk = client.shrink(data)
        except Exception as err:  # Pillow raises several types for a corrupt or hostile image
            reason = "the data does not decode" if type(err).__name__ == "UnidentifiedImageError" else str(err)
            raise Refused(f"{path} is over the {client.UPLOAD_LIMIT_BYTES / 1e6:.1f} MB upload limit and cannot "
                          f"be downscaled: {reason}", 2) from None
        print(f"note: {path} is {len(data) / 1e6:.1f} MB, over the {client.UPLOAD_LIMIT_BYTES / 1e6:.1f} MB "
              f"upload limit; sending a downscaled JPEG of {len(shrunk) / 1e6:.1f} MB instead", file=sys.stderr)
        data = shrunk
    return data


def api_error(reply: client.Reply) -> str:
    """One line for an answer that is not a prediction: the API's error code and message when it
    sent the contract's error shape, API Gateway's message, or the start of whatever came back."""
    body = reply.json
    error = body.get("error") if isinstance(body, dict) else None
    request_id = reply.headers.get("x-request-id")
    suffix = f" (x-request-id {request_id})" if request_id else ""
    if isinstance(error, dict) and error.get("code"):
        return f"HTTP {reply.status} {error.get('code')}: {error.get('message', '')}{suffix}"
    if isinstance(body, dict) and isinstance(body.get("message"), str):  # API Gateway's own answers
        hint = " (does this stage need an API key? pass --api-key or set API_KEY)" if reply.status == 403 else ""
        return f"HTTP {reply.status} {body['message']}{hint}{suffix}"
    text = reply.body[:200].decode(errors="replace").strip().replace("\n", " ")
    return f"HTTP {reply.status} {text or '(empty body)'}{suffix}"


def predictions(reply: client.Reply) -> tuple[list[dict], int]:
    body = reply.json
    if reply.status != 200 or not isinstance(body, dict):
        raise Refused(api_error(reply), 1)
    preds = body.get("predictions")
    if not isinstance(preds, list) or not all(isinstance(p, dict) and "index" in p and "probability" in p
                                              for p in preds):
        raise Refused(f"HTTP 200 but not a prediction (is the URL a sagefront API?): {reply.body[:200]!r}", 1)
    return preds, body.get("classes", "?")


def main() -> int:
    parser = argparse.ArgumentParser(prog="scripts/predict", description=__doc__.split("\n\n")[0])
    parser.add_argument("image", type=Path, help=IMAGE_TYPES)
    parser.add_argument("--k", type=int, default=None, help="how many classes (default: the API's)")
    parser.add_argument("--url", default=os.environ.get("API_URL") or client.DEFAULT_URL,
                        help="the API's base URL (default: $API_URL or the local stack)")
    parser.add_argument("--api-key", default=os.environ.get("API_KEY"), help="x-api-key (default: $API_KEY)")
    parser.add_argument("--raw", action="store_true", help="send raw bytes instead of base64 JSON")
    args = parser.parse_args()

    try:
        client.check_url(args.url)
    except client.RequestFailed as err:
        raise Refused(f"--url: {err}", 2) from None
    data = read_image(args.image)
    try:
        reply = client.predict(args.url, data, k=args.k, api_key=args.api_key, raw=args.raw)
    except client.RequestFailed as err:
        local = urllib.parse.urlsplit(args.url).hostname in ("127.0.0.1", "localhost", "::1")
        refused = str(err).startswith("connection refused")
        hint = "; is the local stack running? Start it with scripts/dev" if local and refused else ""
        raise Refused(f"cannot reach {args.url}: {err}{hint}", 1) from None
    preds, classes = predictions(reply)

    print(f"{'rank':>4}  {'index':>5}  {'probability':>11}  label")
    for rank, p in enumerate(preds, start=1):
        print(f"{rank:>4}  {p['index']:>5}  {p['probability']:>11.4f}  {p.get('label', '')}")
    print(f"({len(preds)} of {classes} classes)")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except Refused as refused:
        print(f"error: {refused}", file=sys.stderr)
        sys.exit(refused.status)
    except KeyboardInterrupt:
        sys.exit(130)
    except BrokenPipeError:  # `scripts/predict photo.jpg | head -1`: the reader has what it wanted
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        sys.exit(0)
