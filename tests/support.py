"""Helpers shared by tests: free ports, a local HTTP server that records requests, API shortcuts, a test CA."""

from __future__ import annotations

import datetime
import ipaddress
import json
import os
import re
import socket
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from flowyard.processes import ChildProcess


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class RecordedRequest:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class RecordingServer:
    """A real HTTP server on loopback. `responses` maps a path to (status, headers, body)."""

    requests: list[RecordedRequest] = field(default_factory=list)
    responses: dict[str, tuple[int, dict[str, str], bytes]] = field(default_factory=dict)
    port: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> RecordingServer:
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            def _handle(self) -> None:
                sleep = re.search(r"[?&]sleep=([0-9.]+)", self.path)
                if sleep:  # a slow service
                    time.sleep(float(sleep.group(1)))
                length = int(self.headers.get("content-length") or 0)
                body = self.rfile.read(length) if length else b""
                recorder.requests.append(RecordedRequest(self.command, self.path, dict(self.headers), body))
                status, headers, payload = recorder.responses.get(
                    self.path.split("?")[0], (200, {"content-type": "application/json"}, b'{"ok": true}')
                )
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("content-length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _handle

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self._server.server_address[1]
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        self._server.shutdown()


@dataclass(frozen=True)
class TlsFiles:
    ca: Path  # the CA's certificate: what clients trust
    cert: Path  # the server's certificate, for localhost and 127.0.0.1, signed by the CA
    key: Path  # the server's private key


def make_tls_files(directory: Path) -> TlsFiles:
    """A throwaway CA and a server certificate it signed (SAN localhost, 127.0.0.1), as PEM files."""

    def certificate(subject: str, key, issuer: str, issuer_key, extensions) -> x509.Certificate:
        now = datetime.datetime.now(datetime.UTC)
        builder = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
            .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer)]))
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
        )
        for extension, critical in extensions:
            builder = builder.add_extension(extension, critical=critical)
        return builder.sign(issuer_key, hashes.SHA256())

    ca_key, server_key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca_usage = x509.KeyUsage(False, False, False, False, False, True, True, False, False)  # cert and CRL signing
    ca = certificate("Flowyard test CA", ca_key, "Flowyard test CA", ca_key,
                     [(x509.BasicConstraints(ca=True, path_length=0), True), (ca_usage, True)])  # fmt: skip
    names = [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
    server = certificate("localhost", server_key, "Flowyard test CA", ca_key,
                         [(x509.BasicConstraints(ca=False, path_length=None), True),
                          (x509.SubjectAlternativeName(names), False),
                          (x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), False)])  # fmt: skip
    directory.mkdir(parents=True, exist_ok=True)
    files = TlsFiles(directory / "ca.pem", directory / "server.pem", directory / "server.key")
    files.ca.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    files.cert.write_bytes(server.public_bytes(serialization.Encoding.PEM))
    files.key.write_bytes(
        server_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return files


class Api:
    """A thin client of the public API for tests."""

    def __init__(self, base_url: str, token: str | None = None) -> None:
        self.base_url = base_url
        self.http = httpx.Client(base_url=base_url, timeout=60)
        self.token = token

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"} if self.token else {}

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        return self.http.request(method, path, headers={**self.headers(), **kwargs.pop("headers", {})}, **kwargs)

    def get(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.request("POST", path, **kwargs)

    def put(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.request("PUT", path, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.request("DELETE", path, **kwargs)

    def with_token(self, token: str) -> Api:
        """The same API, as whoever `token` signs in."""
        return Api(self.base_url, token)

    def signup(self, tenant_name: str | None = None) -> Api:
        name = tenant_name or f"Tenant {uuid.uuid4().hex[:8]}"
        response = self.http.post(
            "/api/v1/signup",
            json={
                "tenant_name": name,
                "email": f"{uuid.uuid4().hex[:10]}@example.com",
                "password": "correct horse battery",
            },
        )
        assert response.status_code == 201, response.text
        api = Api(self.base_url, response.json()["token"])
        api.signup_body = response.json()
        return api

    def wait_for_run(self, run_id: str, timeout: float = 120) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            run = self.get(f"/api/v1/runs/{run_id}").json()
            if run["status"] in ("completed", "failed", "cancelled"):
                return run
            time.sleep(0.3)
        raise AssertionError(f"run {run_id} did not finish in {timeout}s: {run}")


def four_node_graph(target_url: str) -> dict[str, Any]:
    """trigger.manual -> data.transform -> http.request -> util.log, laid out left to right."""
    return {
        "nodes": [
            {"id": "start", "type": "trigger.manual", "label": "Start", "config": {}, "position": {"x": 0, "y": 0}},
            {
                "id": "shape",
                "type": "data.transform",
                "label": "Shape the lead",
                "config": {"fields": {"name": "{{ trigger.name }}", "greeting": "Hello {{ trigger.name }}!"}},
                "position": {"x": 250, "y": 0},
            },
            {
                "id": "notify",
                "type": "http.request",
                "label": "Tell the CRM",
                "config": {
                    "method": "POST",
                    "url": target_url + "/leads",
                    "json_body": {
                        "lead": "{{ steps.shape.output.name }}",
                        "message": "{{ steps.shape.output.greeting }}",
                    },
                },
                "position": {"x": 500, "y": 0},
            },
            {
                "id": "done",
                "type": "util.log",
                "label": "Log it",
                "config": {"message": "CRM answered {{ steps.notify.output.status_code }}"},
                "position": {"x": 750, "y": 0},
            },
        ],
        "edges": [
            {"id": "e1", "source": "start", "target": "shape"},
            {"id": "e2", "source": "shape", "target": "notify"},
            {"id": "e3", "source": "notify", "target": "done"},
        ],
    }


def node(node_id: str, node_type: str, config: dict[str, Any] | None = None, x: int = 0, y: int = 0) -> dict[str, Any]:
    return {"id": node_id, "type": node_type, "label": node_id, "config": config or {}, "position": {"x": x, "y": y}}


def edge(source: str, target: str, handle: str | None = None) -> dict[str, Any]:
    return {"id": f"{source}-{handle or 'out'}-{target}", "source": source, "source_handle": handle, "target": target}


def graph(nodes: list[dict[str, Any]], edges: list[dict[str, Any]]) -> dict[str, Any]:
    return {"nodes": nodes, "edges": edges}


def labelled(node_id: str, node_type: str, label: str, config: dict[str, Any] | None = None) -> dict[str, Any]:
    return {**node(node_id, node_type, config), "label": label}


def publish_answer(api: Api, name: str, workflow_graph: dict[str, Any]) -> dict[str, Any]:
    """Create and publish a workflow; returns the publish answer (the workflow, and a webhook's secret)."""
    created = api.post("/api/v1/workflows", json={"name": name, "graph": workflow_graph})
    assert created.status_code == 201, created.text
    published = api.post(f"/api/v1/workflows/{created.json()['id']}/publish")
    assert published.status_code == 200, published.text
    return published.json()


def publish(api: Api, name: str, workflow_graph: dict[str, Any]) -> str:
    """Create and publish a workflow; returns its id."""
    return str(publish_answer(api, name, workflow_graph)["id"])


def start_run(api: Api, workflow_id: str, payload: dict[str, Any] | None = None) -> str:
    """Start a live run; returns its id."""
    accepted = api.post(f"/api/v1/workflows/{workflow_id}/runs", json={"input": payload or {}})
    assert accepted.status_code == 202, accepted.text
    return str(accepted.json()["run_id"])


def publish_and_run(
    api: Api, name: str, workflow_graph: dict[str, Any], inputs: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """Create and publish a workflow, start one run per input, and wait for all of them."""
    workflow_id = publish(api, name, workflow_graph)
    run_ids = [start_run(api, workflow_id, payload) for payload in inputs]
    return [api.wait_for_run(run_id) for run_id in run_ids]


def steps_by_node(run: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {step["node_id"]: step for step in run["steps"] if step.get("item_index") is None}


def member(owner: Api, role: str) -> Api:
    """A person invited into the owner's workspace with `role`, signed in (their email in `.email`)."""
    email = f"{uuid.uuid4().hex[:10]}@example.com"
    invited = owner.post("/api/v1/invitations", json={"email": email, "role": role})
    assert invited.status_code == 201, invited.text
    token = invited.json()["url"].rsplit("/", 1)[1]
    password = "correct horse battery"
    accepted = owner.http.post(f"/api/v1/invitations/{token}/accept", json={"password": password, "name": role})
    assert accepted.status_code == 200, accepted.text
    person = owner.with_token(accepted.json()["token"])
    person.email = email
    return person


class PatientTransport(httpx.HTTPTransport):
    """Asks again when a busy SQLite Prefect answers 503, as Prefect's own client does."""

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        for _ in range(8):
            response = super().handle_request(request)
            if response.status_code != 503:
                return response
            response.close()
            time.sleep(0.5)
        return response


def prefect_http(stack: Any) -> httpx.Client:
    """Prefect's API as an operator (or an attacker who got its credentials) calls it, raw."""
    auth = getattr(stack, "prefect_auth", None)  # Prefect's auth string, once `flowyard up` sets one
    return httpx.Client(base_url=stack.prefect_url, auth=auth, timeout=30, transport=PatientTransport())


def log_lines(path: Path) -> list[str]:
    """`flowyard up`'s supervisor log (logs/supervisor.log): its lines without their timestamps."""
    return [line.split(" ", 1)[1] for line in path.read_text().splitlines()] if path.exists() else []


def started_pid(log: Path, name: str, verb: str = "started") -> int | None:
    """The pid the supervisor last logged for child `name` with `verb` (started or restarted)."""
    pids = [int(m[1]) for line in log_lines(log) if (m := re.fullmatch(rf"{name} {verb} \(pid (\d+)\)", line))]
    return pids[-1] if pids else None


def current_pid(log: Path, name: str) -> int | None:
    """The pid of child `name` now: the last one the supervisor logged it started or restarted with."""
    pids = [int(m[1]) for line in log_lines(log) if (m := re.fullmatch(rf"{name} (?:re)?started \(pid (\d+)\)", line))]
    return pids[-1] if pids else None


def sendgrid_connection(api: Api, fake_services: Any, name: str = "Orders") -> str:
    """A SendGrid connection of `api`'s workspace with a key the SendGrid fake accepts; its id."""
    created = api.post(
        "/api/v1/connections",
        json={
            "type": "sendgrid",
            "name": name,
            "config": {"from_email": "orders@alice-bakery.com"},
            "secrets": {"api_key": fake_services.sendgrid.add_key()},
        },
    )
    assert created.status_code == 201, created.text
    return created.json()["id"]


def python_child(tmp_path: Path, name: str, code: str) -> ChildProcess:
    """A child process for the supervisor that runs `code`, logging under tmp_path/logs."""
    return ChildProcess(name, [sys.executable, "-c", code], dict(os.environ), tmp_path / "logs" / f"{name}.log")


def alive(pid: int) -> bool:
    """Whether `pid` runs (a zombie does not)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split()[2] != "Z"
    except FileNotFoundError:
        return False
