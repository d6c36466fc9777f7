"""A fake SageMaker Runtime that answers at once, so the benchmark measures the function only.

`POST /endpoints/{name}/invocations` reads the whole body and answers with a JSON array of N
probabilities in the built-in image-classification algorithm's format (Python float repr,
", "-separated, as in the 2018 post). N comes from the endpoint name: `bench-21843` answers
21,843 classes. `GET /ping` answers 200 (the Rust function's init warm-up sends it).
"""

from __future__ import annotations

import random
import re
import threading
import time
from http.server import BaseHTTPRequestHandler

from .runtime_api import QuietServer

_ENDPOINT = re.compile(r"^/endpoints/([A-Za-z0-9-]+)/invocations$")
_CLASSES = re.compile(r"-(\d+)$")


def probabilities_body(classes: int, seed: int = 257) -> bytes:
    """A deterministic probability vector of `classes` entries that sums to 1, as JSON."""
    rng = random.Random(seed + classes)
    raw = [rng.random() ** 8 for _ in range(classes)]
    total = sum(raw)
    return ("[" + ", ".join(repr(v / total) for v in raw) + "]").encode()


class FakeSageMaker:
    """Serves on 127.0.0.1 (an ephemeral port) in a background thread."""

    def __init__(self):
        self.invocations = 0
        self.bytes_received = 0
        self.pings = 0
        self.last_content_type = None
        # The last request body, to check what reached the model byte for byte.
        self.last_body = b""
        # Seconds each invocation waits before answering (a slow model).
        self.delay_s = 0.0
        self._bodies: dict[int, bytes] = {}
        self._lock = threading.Lock()
        fake = self

        class Handler(_Handler):
            sagemaker = fake

        self._server = QuietServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        """The value for `AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME`."""
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def body_for(self, classes: int) -> bytes:
        with self._lock:
            body = self._bodies.get(classes)
            if body is None:
                body = self._bodies[classes] = probabilities_body(classes)
            return body

    def close(self):
        self._server.shutdown()
        self._server.server_close()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    sagemaker: FakeSageMaker

    def log_message(self, *args):
        pass

    def _reply(self, status, body, content_type="application/json", extra=None):
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("x-amzn-RequestId", "00000000-0000-0000-0000-000000000000")
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        if self.path == "/ping":
            self.sagemaker.pings += 1
            self._reply(200, b"")
        else:
            self._reply(404, b'{"message":"not found"}')

    def do_POST(self):
        length = int(self.headers.get("Content-Length") or 0)
        received = self.rfile.read(length)
        m = _ENDPOINT.match(self.path.split("?")[0])
        classes = _CLASSES.search(m.group(1)) if m else None
        if not classes or int(classes.group(1)) < 1:
            self._reply(
                400,
                b'{"message":"Endpoint not found (use bench-<classes>)."}',
                extra={"x-amzn-ErrorType": "ValidationError:http://internal.amazon.com/coral/com.amazon.sagemaker/"},
            )
            return
        self.sagemaker.invocations += 1
        self.sagemaker.bytes_received += len(received)
        self.sagemaker.last_body = received
        self.sagemaker.last_content_type = self.headers.get("Content-Type")
        if self.sagemaker.delay_s:
            time.sleep(self.sagemaker.delay_s)
        self._reply(
            200,
            self.sagemaker.body_for(int(classes.group(1))),
            extra={"x-Amzn-Invoked-Production-Variant": "AllTraffic"},
        )
