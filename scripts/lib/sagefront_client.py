"""A small client for the sagefront API, shared by scripts/predict and scripts/smoke-test.

Standard library only (urllib), except Pillow for shrinking oversized photos.
"""

from __future__ import annotations

import base64
import io
import json
import urllib.error
import urllib.request
from dataclasses import dataclass

DEFAULT_URL = "http://127.0.0.1:9000/lambda-url/sagefront-function"
# Lambda's 6 MB synchronous event limit, after base64 (4/3) and the event's own overhead.
UPLOAD_LIMIT_BYTES = 4_400_000


@dataclass
class Reply:
    """An HTTP answer: status, headers (lowercased names) and parsed JSON (or None)."""

    status: int
    headers: dict[str, str]
    body: bytes

    @property
    def json(self):
        try:
            return json.loads(self.body)
        except ValueError:
            return None


def request(method: str, url: str, body: bytes | None = None, headers: dict | None = None,
            timeout: float = 60.0) -> Reply:
    """Sends one request; HTTP errors are replies, not exceptions."""
    req = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return Reply(resp.status, {k.lower(): v for k, v in resp.headers.items()}, resp.read())
    except urllib.error.HTTPError as err:
        return Reply(err.code, {k.lower(): v for k, v in err.headers.items()}, err.read())


def sniff_content_type(data: bytes) -> str:
    """The raw-body Content-Type for an image's bytes."""
    if data[:3] == b"\xff\xd8\xff":
        return "image/jpeg"
    if data[:8] == b"\x89PNG\r\n\x1a\n":
        return "image/png"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return "application/octet-stream"


def shrink(data: bytes, limit: int = UPLOAD_LIMIT_BYTES) -> bytes:
    """Re-encodes an image as a JPEG under `limit` bytes (EXIF orientation applied)."""
    from PIL import Image, ImageOps  # only needed for oversized photos

    img = ImageOps.exif_transpose(Image.open(io.BytesIO(data))).convert("RGB")
    side = min(max(img.size), 4096)
    while True:
        copy = img.copy()
        copy.thumbnail((side, side))
        out = io.BytesIO()
        copy.save(out, "JPEG", quality=90)
        if out.tell() <= limit or side <= 64:
            return out.getvalue()
        side = int(side * 0.75)


def predict(url: str, image: bytes, k: int | None = None, api_key: str | None = None,
            raw: bool = False) -> Reply:
    """POST /predictions, as JSON (base64) or as a raw body."""
    headers = {"x-api-key": api_key} if api_key else {}
    base = url.rstrip("/")
    if raw:
        query = f"?k={k}" if k is not None else ""
        headers["Content-Type"] = sniff_content_type(image)
        return request("POST", f"{base}/predictions{query}", image, headers)
    payload = {"image": base64.b64encode(image).decode()}
    if k is not None:
        payload["k"] = k
    headers["Content-Type"] = "application/json"
    return request("POST", f"{base}/predictions", json.dumps(payload).encode(), headers)
