"""A fake service: a real HTTP server on 127.0.0.1 that records every request and can be scripted to
misbehave for requests that match (a status, a slow answer), before answering as the service would."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]  # lower-case names
    body: bytes
    at: float = field(default_factory=time.perf_counter)  # when it arrived (for benchmarks)

    def json(self) -> Any:
        return json.loads(self.body or b"null")

    def form(self) -> dict[str, list[str]]:
        return parse_qs(self.body.decode(), keep_blank_values=True)

    def text(self) -> str:
        return self.body.decode(errors="replace")


@dataclass
class Response:
    status: int
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes | dict | list | str = b""

    def payload(self) -> bytes:
        if isinstance(self.body, (dict, list)):
            return json.dumps(self.body).encode()
        return self.body.encode() if isinstance(self.body, str) else self.body


def json_response(status: int, body: Any, headers: dict[str, str] | None = None) -> Response:
    return Response(status, {"Content-Type": "application/json", **(headers or {})}, body)


@dataclass
class Delay:
    """Answer normally, but only after `seconds` (longer than the client waits: a timeout)."""

    seconds: float


Step = Response | Delay


@dataclass
class Script:
    match: Callable[[Request], bool]
    steps: list[Step]


class FakeService:
    name = "fake"

    def __init__(self) -> None:
        self.requests: list[Request] = []
        self._scripts: list[Script] = []
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None

    # -- to override ---------------------------------------------------------------------------
    def handle(self, request: Request) -> Response:
        raise NotImplementedError

    # -- scripting -------------------------------------------------------------------------------
    def script(self, match: Callable[[Request], bool], *steps: Step) -> None:
        """The next len(steps) requests that match get these answers, in order; then normal ones."""
        with self._lock:
            self._scripts.append(Script(match, list(steps)))

    def _scripted(self, request: Request) -> Step | None:
        with self._lock:
            for script in self._scripts:
                if script.steps and script.match(request):
                    return script.steps.pop(0)
        return None

    def received(self, match: Callable[[Request], bool] = lambda r: True) -> list[Request]:
        with self._lock:
            return [r for r in self.requests if match(r)]

    # -- serving -----------------------------------------------------------------------------------
    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def dispatch(self, request: Request) -> Response:
        with self._lock:
            self.requests.append(request)
        step = self._scripted(request)
        if isinstance(step, Delay):
            time.sleep(step.seconds)
        elif step is not None:
            return step
        return self.handle(request)

    def start(self) -> FakeService:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _serve(self) -> None:
                url = urlsplit(self.path)
                length = int(self.headers.get("content-length") or 0)
                body = self.rfile.read(length) if length else b""
                request = Request(
                    self.command,
                    url.path,
                    parse_qs(url.query, keep_blank_values=True),
                    {k.lower(): v for k, v in self.headers.items()},
                    body,
                )
                try:
                    response = fake.dispatch(request)
                except Exception as exc:  # a bug in a fake answers 500, visibly
                    response = Response(500, {"Content-Type": "text/plain"}, f"fake {fake.name} crashed: {exc!r}")
                payload = response.payload()
                try:
                    self.send_response(response.status)
                    for name, value in response.headers.items():
                        self.send_header(name, value)
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up waiting

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _serve

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, name=f"fake-{self.name}", daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server:
            self._server.shutdown()
            self._server.server_close()
