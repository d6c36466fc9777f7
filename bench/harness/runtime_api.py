"""A local Lambda Runtime API: the documented 2018-06-01 protocol, for one function process.

The function (Rust `lambda_runtime` or Python `awslambdaric`) polls
`GET /2018-06-01/runtime/invocation/next`, answers with `POST .../{id}/response` or
`.../{id}/error`, or reports a failed init with `POST .../init/error`, exactly as in Lambda.
The benchmark queues events with :meth:`RuntimeApi.invoke` and gets back an
:class:`Invocation` with its timings and, when a CPU probe is set, the function's CPU clock
read the moment it came back for the next event (so consecutive readings bracket exactly one
invocation).
"""

from __future__ import annotations

import json
import queue
import threading
import time
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Callable, Optional

PREFIX = "/2018-06-01/runtime"
FUNCTION_ARN = "arn:aws:lambda:us-east-1:123456789012:function:sagefront-bench"


def invocation_id(request_id: str) -> str:
    """The invocation id sent with an event (Lambda uses it to reject stale answers)."""
    return f"inv-{request_id}"


@dataclass
class Invocation:
    """One event and what became of it."""

    request_id: str
    event: bytes
    queued_at: float = 0.0
    delivered_at: Optional[float] = None
    done_at: Optional[float] = None
    # "response" or "error"; None while pending.
    outcome: Optional[str] = None
    body: bytes = b""
    # The `Lambda-Runtime-Invocation-Id` the function echoed with its answer, if any.
    echoed_invocation_id: Optional[str] = None
    # The function's CPU clock (ns) when it asked for this event, and when it asked for the next.
    cpu_before_ns: Optional[int] = None
    cpu_after_ns: Optional[int] = None
    done: threading.Event = field(default_factory=threading.Event)
    next_polled: threading.Event = field(default_factory=threading.Event)

    @property
    def cpu_ns(self) -> Optional[int]:
        """CPU the function spent on this invocation (poll to poll), when probed."""
        if self.cpu_before_ns is None or self.cpu_after_ns is None:
            return None
        return self.cpu_after_ns - self.cpu_before_ns

    def json(self):
        return json.loads(self.body)


class RuntimeApi:
    """Serves the Runtime API on 127.0.0.1 (an ephemeral port) in a background thread."""

    def __init__(self, deadline_ms: int = 30_000):
        self.deadline_ms = deadline_ms
        # When set, every reply closes its connection (`Connection: close`), so the function
        # must open a new one for each request.
        self.close_connections = False
        self.cpu_probe: Optional[Callable[[], Optional[int]]] = None
        self.init_error: Optional[bytes] = None
        self.polls = 0
        self.first_poll_at: Optional[float] = None
        self._queue: "queue.Queue[Optional[Invocation]]" = queue.Queue()
        self._by_id: dict[str, Invocation] = {}
        self._current: Optional[Invocation] = None
        self._lock = threading.Lock()
        self._closed = False
        api = self

        class Handler(_Handler):
            runtime = api

        self._server = QuietServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    @property
    def address(self) -> str:
        """The value for `AWS_LAMBDA_RUNTIME_API`."""
        host, port = self._server.server_address[:2]
        return f"{host}:{port}"

    def submit(self, event: bytes) -> Invocation:
        """Queues an event for the function's next poll."""
        inv = Invocation(request_id=str(uuid.uuid4()), event=event, queued_at=time.perf_counter())
        with self._lock:
            self._by_id[inv.request_id] = inv
        self._queue.put(inv)
        return inv

    def invoke(self, event: bytes, timeout: float = 30.0) -> Invocation:
        """Queues an event and waits until the function has answered it and polled again."""
        inv = self.submit(event)
        if not inv.done.wait(timeout):
            raise TimeoutError(f"no answer to invocation {inv.request_id} within {timeout}s")
        # The CPU reading that closes this invocation is taken at the function's next poll.
        if self.cpu_probe is not None:
            inv.next_polled.wait(timeout)
        return inv

    def close(self):
        """Stops serving; a function blocked in `next` gets no event (it is killed anyway)."""
        self._closed = True
        self._queue.put(None)
        self._server.shutdown()
        self._server.server_close()

    # Called from the HTTP handler threads.

    def _probe(self) -> Optional[int]:
        probe = self.cpu_probe
        if probe is None:
            return None
        try:
            return probe()
        except OSError:
            return None

    def _next(self) -> Optional[Invocation]:
        cpu = self._probe()
        now = time.perf_counter()
        with self._lock:
            self.polls += 1
            if self.first_poll_at is None:
                self.first_poll_at = now
            previous, self._current = self._current, None
        if previous is not None:
            previous.cpu_after_ns = cpu
            previous.next_polled.set()
        while not self._closed:
            try:
                inv = self._queue.get(timeout=0.5)
            except queue.Empty:
                continue
            if inv is None:
                self._queue.put(None)
                return None
            inv.cpu_before_ns = cpu
            inv.delivered_at = time.perf_counter()
            with self._lock:
                self._current = inv
            return inv
        return None

    def _finish(self, request_id: str, outcome: str, body: bytes, invocation_id: Optional[str]) -> bool:
        with self._lock:
            inv = self._by_id.pop(request_id, None)
        if inv is None:
            return False
        inv.body = body
        inv.echoed_invocation_id = invocation_id
        inv.outcome = outcome
        inv.done_at = time.perf_counter()
        inv.done.set()
        return True


class QuietServer(ThreadingHTTPServer):
    """A threading HTTP server that does not print a traceback when a killed peer hangs up."""

    daemon_threads = True

    def handle_error(self, request, client_address):
        import sys

        if not isinstance(sys.exc_info()[1], (BrokenPipeError, ConnectionResetError)):
            super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Request and response are small and written in two pieces: without TCP_NODELAY, Nagle and
    # delayed ACKs add 40 ms stalls to every exchange.
    disable_nagle_algorithm = True
    runtime: RuntimeApi

    def log_message(self, *args):  # quiet
        pass

    def _reply(self, status: int, body: bytes = b"", headers: Optional[dict] = None):
        self.send_response(status)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        if self.runtime.close_connections:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if body:
            self.wfile.write(body)

    def _read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip(), 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def do_GET(self):
        if self.path != f"{PREFIX}/invocation/next":
            self._reply(404, b'{"errorMessage":"not found"}')
            return
        inv = self.runtime._next()
        if inv is None:
            self._reply(500, b'{"errorMessage":"runtime API shutting down"}')
            return
        deadline = int(time.time() * 1000) + self.runtime.deadline_ms
        self._reply(
            200,
            inv.event,
            {
                "Content-Type": "application/json",
                "Lambda-Runtime-Aws-Request-Id": inv.request_id,
                "Lambda-Runtime-Invocation-Id": invocation_id(inv.request_id),
                "Lambda-Runtime-Deadline-Ms": str(deadline),
                "Lambda-Runtime-Invoked-Function-Arn": FUNCTION_ARN,
                "Lambda-Runtime-Trace-Id": f"Root=1-{int(time.time()):08x}-{inv.request_id.replace('-', '')[:24]};Sampled=0",
            },
        )

    def do_POST(self):
        body = self._read_body()
        path = self.path
        if path == f"{PREFIX}/init/error":
            self.runtime.init_error = body
            self._reply(202, b'{"status":"OK"}')
            return
        parts = path[len(PREFIX) :].strip("/").split("/") if path.startswith(PREFIX) else []
        if len(parts) == 3 and parts[0] == "invocation" and parts[2] in ("response", "error"):
            echoed = self.headers.get("Lambda-Runtime-Invocation-Id")
            if self.runtime._finish(parts[1], parts[2], body, echoed):
                self._reply(202, b'{"status":"OK"}')
            else:
                self._reply(400, b'{"errorMessage":"unknown request id","errorType":"InvalidRequestID"}')
            return
        self._reply(404, b'{"errorMessage":"not found"}')
