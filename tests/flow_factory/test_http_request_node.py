"""http.request (blocks.http, served as a node type) against a real HTTP server on 127.0.0.1 (no mocked httpx)."""

import dataclasses
import json
import logging
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pytest

from blocks.http import HttpRequestConfig
from blocks.webcall import MAX_BODY_BYTES
from core.errors import StepFailure
from flow_factory.expressions import make_context, render_value
from flow_factory.nodes import NODE_TYPES
from flow_factory.nodes.base import StepContext

NODE_TYPE = NODE_TYPES["http.request"]
CTX = StepContext(
    execution_id="exec-1", tenant_id="t1", node_id="call_api", mode="test", logger=logging.getLogger("flowyard.test")
)


class Handler(BaseHTTPRequestHandler):
    def _send(self, status, body=b"", content_type="application/json", headers=()):
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in headers:
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _handle(self):
        url = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        if url.path == "/echo":
            echo = {
                "method": self.command,
                "query": parse_qs(url.query),
                "headers": dict(self.headers.items()),
                "body": json.loads(body) if body else None,
            }
            self._send(200, json.dumps(echo).encode(), headers=[("X-Served-By", "Test")])
        elif url.path == "/text":
            self._send(200, "café".encode("latin-1"), "text/plain; charset=latin-1")
        elif url.path == "/big":
            self._send(200, b"x" * (MAX_BODY_BYTES + 10), "text/plain")
        elif url.path == "/missing":
            self._send(404, json.dumps({"error": "no such order"}).encode())
        elif url.path == "/busy":
            self._send(503, b"try later", "text/plain", [("Retry-After", "7")])
        elif url.path == "/limited":
            self._send(429, b"", "text/plain", [("Retry-After", "Wed, 21 Oct 2015 07:28:00 GMT")])
        elif url.path == "/slow":
            time.sleep(1)
            self._send(200, b"{}")
        else:
            self._send(500, b"unexpected path", "text/plain")

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = _handle

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def base_url():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


async def call(raw_config, trigger=None):
    context = make_context(trigger=trigger or {}, steps={}, execution_id="exec-1", mode="test")
    config = NODE_TYPE.parse_config(render_value(raw_config, context))
    return await NODE_TYPE.run(config, CTX)


async def call_error(raw_config) -> StepFailure:
    with pytest.raises(StepFailure) as caught:
        await call(raw_config)
    return caught.value


@pytest.mark.asyncio
async def test_get_json(base_url):
    output = await call(
        {"url": base_url + "/echo", "query": {"id": "{{ trigger.id }}"}, "headers": {"X-Tenant": "acme"}},
        trigger={"id": 42},
    )
    assert output["status_code"] == 200
    assert output["headers"]["x-served-by"] == "Test"  # names lowercased
    assert output["headers"]["content-type"] == "application/json"
    body = output["body"]
    assert body["method"] == "GET" and body["query"] == {"id": ["42"]}
    assert body["headers"]["X-Tenant"] == "acme"
    assert "Idempotency-Key" not in body["headers"]


@pytest.mark.asyncio
async def test_post_sends_json_and_an_idempotency_key(base_url):
    output = await call(
        {"method": "POST", "url": base_url + "/echo", "json_body": {"email": "{{ trigger.email }}", "n": 1}},
        trigger={"email": "jane@example.com"},
    )
    body = output["body"]
    assert body["method"] == "POST"
    assert body["body"] == {"email": "jane@example.com", "n": 1}
    assert body["headers"]["Idempotency-Key"] == "exec-1-call_api"


@pytest.mark.asyncio
async def test_user_idempotency_key_is_kept(base_url):
    output = await call({"method": "PUT", "url": base_url + "/echo", "headers": {"idempotency-key": "mine"}})
    headers = output["body"]["headers"]
    assert headers["idempotency-key"] == "mine" and "Idempotency-Key" not in headers


@pytest.mark.asyncio
async def test_text_body_uses_the_charset(base_url):
    output = await call({"url": base_url + "/text"})
    assert output["body"] == "café"


@pytest.mark.asyncio
async def test_big_body_is_truncated(base_url):
    output = await call({"url": base_url + "/big"})
    assert len(output["body"]) == MAX_BODY_BYTES


@pytest.mark.asyncio
async def test_head_has_no_body(base_url):
    output = await call({"method": "HEAD", "url": base_url + "/echo"})
    assert (output["status_code"], output["body"]) == (200, "")


@pytest.mark.asyncio
async def test_404_is_not_retryable(base_url):
    error = await call_error({"url": base_url + "/missing"})
    assert not error.retryable
    assert "GET " in error.message and "answered 404 Not Found" in error.message
    assert "no such order" in error.message
    assert error.hint == "check the URL: the server has nothing there"
    assert error.details["status_code"] == 404


@pytest.mark.asyncio
async def test_error_status_is_output_when_not_failing(base_url):
    output = await call({"url": base_url + "/missing", "fail_on_error_status": False})
    assert output["status_code"] == 404 and output["body"] == {"error": "no such order"}


@pytest.mark.asyncio
async def test_503_is_retryable_with_retry_after(base_url):
    error = await call_error({"method": "POST", "url": base_url + "/busy"})
    assert error.retryable
    assert error.retry_after == 7
    assert "answered 503" in error.message and "try later" in error.message


@pytest.mark.asyncio
async def test_429_with_a_past_http_date_retries_now(base_url):
    error = await call_error({"url": base_url + "/limited"})
    assert error.retryable and error.retry_after == 0


@pytest.mark.asyncio
async def test_timeout_is_retryable(base_url):
    error = await call_error({"url": base_url + "/slow", "timeout_seconds": 0.1})
    assert error.retryable
    assert "timed out after 0.1 s" in error.message
    assert "timeout_seconds" in error.hint


@pytest.mark.asyncio
async def test_connection_refused_is_retryable():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed again when the block ends: nothing listens
    error = await call_error({"url": f"http://127.0.0.1:{port}/"})
    assert error.retryable
    assert "could not connect" in error.message


def test_url_must_be_http_after_rendering():
    context = make_context(trigger={"url": "file:///etc/passwd"}, steps={}, execution_id="e", mode="test")
    with pytest.raises(ValueError):
        HttpRequestConfig.model_validate(render_value({"url": "{{ trigger.url }}"}, context))
    assert HttpRequestConfig(url="HTTPS://example.com").url == "HTTPS://example.com"


def test_config_bounds():
    with pytest.raises(ValueError):
        HttpRequestConfig(url="https://example.com", timeout_seconds=301)
    with pytest.raises(ValueError):
        HttpRequestConfig(url="https://example.com", colour="red")
    assert HttpRequestConfig(url="https://example.com", headers={"X-Id": 5}).headers == {"X-Id": "5"}


@pytest.mark.asyncio
async def test_each_loop_item_sends_its_own_idempotency_key(base_url):
    in_a_loop = dataclasses.replace(CTX, context={"loop": {"index": 2, "item": "b"}})
    output = await NODE_TYPE.run(HttpRequestConfig(method="POST", url=base_url + "/echo"), in_a_loop)
    assert output["body"]["headers"]["Idempotency-Key"] == "exec-1-call_api-2"
