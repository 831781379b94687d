"""The platform database goes away and comes back: every route answers 503 with Retry-After meanwhile (a webhook
sender retries it), readiness fails, and what was stored before is all there afterwards.

PostgreSQL is reached through a TCP relay the test cuts and restores, so the shared test server keeps running.
"""

from __future__ import annotations

import socket
import threading
from urllib.parse import urlsplit, urlunsplit

import pytest

from tests.conftest import InProcessApi
from tests.support import free_port


class Relay:
    """Forwards 127.0.0.1:<port> to a TCP server until cut; `cut` also drops the connections it carries."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target, self.port = target, free_port()
        self.listener: socket.socket | None = None
        self.open: list[socket.socket] = []

    def restore(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", self.port), reuse_port=False)
        threading.Thread(target=self._accept, args=(self.listener,), daemon=True).start()

    def cut(self) -> None:
        if self.listener is None:
            return
        self.listener.shutdown(socket.SHUT_RDWR)  # wakes the blocked accept(); close alone leaves it listening
        self.listener.close()
        self.listener = None
        for sock in self.open:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            sock.close()
        self.open.clear()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(self.target)
            self.open += [client, upstream]
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(source, sink), daemon=True).start()

    @staticmethod
    def _pipe(source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (source, sink):
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass


@pytest.fixture
def relayed(postgres, tmp_path):
    """The platform API in-process on a migrated PostgreSQL database reached through a relay."""
    from fastapi.testclient import TestClient

    from core.settings import Settings
    from platform_api.app import create_app
    from store.migrate import upgrade

    url = postgres.create("outage")
    upgrade(url)
    parts = urlsplit(url)
    relay = Relay((parts.hostname or "127.0.0.1", parts.port or 5432))
    relay.restore()
    through_relay = urlunsplit(parts._replace(netloc=parts.netloc.replace(f":{parts.port}", f":{relay.port}")))
    settings = Settings(
        home=tmp_path,
        database_url=through_relay,
        dispatcher={"enabled": False},
        prefect={"api_url": "http://127.0.0.1:9/api"},
    )
    with TestClient(create_app(settings), base_url="http://testserver") as client:
        yield InProcessApi(client), relay
    relay.cut()


def test_while_the_database_is_away_every_route_answers_503_and_nothing_stored_is_lost(relayed, minimal_graph):
    anonymous, relay = relayed
    owner = anonymous.signup()
    created = owner.post("/api/v1/workflows", json={"name": "Survives", "graph": minimal_graph})
    assert created.status_code == 201, created.text

    relay.cut()
    answers = {
        "list": owner.get("/api/v1/workflows"),
        "save": owner.put(f"/api/v1/workflows/{created.json()['id']}", json={"description": "lost?"}),
        "sign up": anonymous.http.post(
            "/api/v1/signup", json={"tenant_name": "Later", "email": "later@example.com", "password": "x" * 20}
        ),
        "webhook": anonymous.http.post("/hooks/some-endpoint", json={"email": "a@example.com"}),
    }
    for what, answer in answers.items():
        assert answer.status_code == 503, (what, answer.status_code, answer.text)
        assert answer.headers["Retry-After"] == "5", what
        assert answer.headers["content-type"].startswith("application/problem+json"), what
        assert answer.json()["type"].endswith("/database-unavailable") and answer.json()["hint"], what
    ready = anonymous.http.get("/api/v1/health/ready")
    assert ready.status_code == 503 and "database" in {e["path"] for e in ready.json()["errors"]}

    relay.restore()
    workflows = owner.get("/api/v1/workflows")
    assert workflows.status_code == 200, workflows.text
    assert [(w["name"], w["description"]) for w in workflows.json()] == [("Survives", "")]
    ready = anonymous.http.get("/api/v1/health/ready").json()  # still 503: there is no workflow engine in-process
    assert "database" not in {e["path"] for e in ready["errors"]} and "prefect" in {e["path"] for e in ready["errors"]}
