"""A small client for the sagefront API, shared by scripts/predict and scripts/smoke-test.

Standard library only (urllib), except Pillow for shrinking oversized photos.
"""

from __future__ import annotations

import base64
import http.client
import io
import json
import socket
import urllib.error
import urllib.parse
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


class RequestFailed(OSError):
    """No HTTP answer: a bad URL, a refused connection, a timeout, or a server that does not speak
    HTTP. The message says which, in words; an OSError so that callers catching "cannot reach"
    (OSError) catch it too."""


def check_url(url: str) -> None:
    """Raises RequestFailed unless `url` is an http(s) URL with a host."""
    try:
        parts = urllib.parse.urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError as err:
        raise RequestFailed(f"not a valid URL: {url!r} ({err})") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise RequestFailed(f"not an http:// or https:// URL: {url!r}")


def request(method: str, url: str, body: bytes | None = None, headers: dict | None = None,
            timeout: float = 60.0) -> Reply:
    """Sends one request. HTTP errors are replies; anything that prevents an HTTP answer raises
    RequestFailed with a one-line reason."""
    check_url(url)
    req = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return Reply(resp.status, {k.lower(): v for k, v in resp.headers.items()}, resp.read())
    except urllib.error.HTTPError as err:
        return Reply(err.code, {k.lower(): v for k, v in err.headers.items()}, err.read())
    except urllib.error.URLError as err:
        reason = err.reason
        if isinstance(reason, ConnectionRefusedError):
            where = urllib.parse.urlsplit(url)
            raise RequestFailed(f"connection refused: nothing listens on {where.netloc}") from None
        if isinstance(reason, socket.gaierror):
            raise RequestFailed(f"unknown host {urllib.parse.urlsplit(url).hostname!r}") from None
        if isinstance(reason, (TimeoutError, socket.timeout)):
            raise RequestFailed(f"no answer within {timeout:g} s") from None
        raise RequestFailed(str(getattr(reason, "strerror", None) or reason)) from None
    except (TimeoutError, socket.timeout):
        raise RequestFailed(f"no answer within {timeout:g} s") from None
    except http.client.HTTPException as err:
        raise RequestFailed(f"the server did not answer in HTTP ({type(err).__name__})") from None
    except ValueError as err:  # e.g. http.client.InvalidURL
        raise RequestFailed(f"not a valid URL: {url!r} ({err})") from None
    except OSError as err:
        raise RequestFailed(err.strerror or str(err)) from None


def image_type(data: bytes) -> str | None:
    """The Content-Type of an image the API accepts (JPEG, PNG, WebP, GIF, BMP), from its magic
    bytes; None for anything else."""
    if data[:3] == b"\xff\xd8\xff":
        return "image/jpeg"
    if data[:8] == b"\x89PNG\r\n\x1a\n":
        return "image/png"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return "image/gif"
    if data[:2] == b"BM":
        return "image/bmp"
    return None


def sniff_content_type(data: bytes) -> str:
    """The raw-body Content-Type for an image's bytes."""
    return image_type(data) or "application/octet-stream"


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
