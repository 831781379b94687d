"""core.prefect_client against a local server that answers 503 as a SQLite Prefect server does when its
database is locked, through Prefect's own client and its retry loop (its sleeps are recorded, not slept)."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from prefect.client import base
from prefect.client.orchestration import SyncPrefectClient

from core import prefect_client as prefect_retries


@pytest.fixture
def busy_api():
    """Answers 503 to the first `busy` requests, then 200."""
    state = {"busy": 0, "seen": 0}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            state["seen"] += 1
            status = 503 if state["seen"] <= state["busy"] else 200
            body = b'{"exception_message": "Service Unavailable"}' if status == 503 else b'"Hello, world!"'
            self.send_response(status)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/api", state
    server.shutdown()


@pytest.fixture
def sleeps(monkeypatch):
    slept: list[float] = []
    monkeypatch.setattr(base.time, "sleep", slept.append)
    return slept


def test_every_attempt_prefect_makes_is_retried_within_a_second_then_the_call_once_more(busy_api, sleeps):
    url, state = busy_api
    state["busy"] = 6  # all six attempts of Prefect's client (one and five retries)
    with SyncPrefectClient(url) as client:
        prefect_retries.install(client)
        assert prefect_retries.call(client.hello).json() == "Hello, world!"
    assert state["seen"] == 7
    assert len(sleeps) == 6 and max(sleeps) < 1, sleeps
    assert sleeps[-1] == 0  # not the minute Prefect's client waits after its last attempt before giving up


def test_outside_call_prefects_own_back_off_applies(busy_api, sleeps):
    url, state = busy_api
    state["busy"] = 1
    with SyncPrefectClient(url) as client:
        prefect_retries.install(client)
        assert client.hello().status_code == 200
    assert len(sleeps) == 1 and sleeps[0] > 1  # 2 s, with jitter
