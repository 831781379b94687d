"""Helpers for the catalog tests that run on the whole platform: connections to the fakes, and waiting
for many runs at once (a run that reached a delay or an approval ends the check as `waiting`)."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from typing import Any

from tests.support import Api

SETTLED = ("completed", "failed", "cancelled", "waiting")


def connect(api: Api, body: dict[str, Any]) -> str:
    response = api.post("/api/v1/connections", json=body)
    assert response.status_code == 201, response.text
    return response.json()["id"]


def connect_everything(api: Api, fakes, sql_url: str | None) -> dict[str, str]:
    """One connection of every kind the templates use, pointed at the local fakes."""
    live, test = fakes.twilio.add_account(numbers=("+14155550100",)), fakes.twilio.add_account(test=True)
    app = fakes.x.add_app()
    ids = {
        "sendgrid": connect(
            api,
            {
                "type": "sendgrid",
                "name": "Mail",
                "config": {"from_email": "hello@shop.example.com"},
                "secrets": {"api_key": fakes.sendgrid.add_key()},
            },
        ),
        "twilio": connect(
            api,
            {
                "type": "twilio",
                "name": "Phone",
                "config": {"account_sid": live.sid, "from_number": "+14155550100", "test_account_sid": test.sid},
                "secrets": {"auth_token": live.token, "test_auth_token": test.token},
            },
        ),
        "mastodon": connect(
            api,
            {
                "type": "mastodon",
                "name": "Fediverse",
                "config": {"instance_url": fakes.mastodon.url},
                "secrets": {"access_token": fakes.mastodon.add_token("shop")},
            },
        ),
        # test runs publish nothing on X, so the account need not be signed in (OAuth) for them
        "x": connect(
            api,
            {
                "type": "x",
                "name": "Brand",
                "config": {"client_id": app.client_id},
                "secrets": {"client_secret": app.client_secret},
            },
        ),
    }
    if sql_url:
        ids["sql"] = connect(api, {"type": "sql", "name": "Shop database", "secrets": {"url": sql_url}})
    return ids


def wait_for_runs(api: Api, run_ids: list[str], timeout: float = 900) -> dict[str, dict[str, Any]]:
    """Poll every run until each is settled (ended, or waiting for a delay or a person)."""
    deadline, runs = time.monotonic() + timeout, {}
    pending = list(run_ids)
    while pending and time.monotonic() < deadline:
        for run_id in list(pending):
            run = api.get(f"/api/v1/runs/{run_id}").json()
            if run["status"] in SETTLED:
                runs[run_id] = run
                pending.remove(run_id)
        if pending:
            time.sleep(1)
    assert not pending, f"{len(pending)} runs did not settle in {timeout}s"
    return runs


class TcpRelay:
    """Another address for a server: a local port that relays to it. The SQL templates' shop database lives
    on the test PostgreSQL server, which the egress policy refuses as the platform's own database; reached
    through this relay it is what it stands for, a tenant's database elsewhere (allow-listed like the fakes)."""

    def __init__(self, host: str, port: int) -> None:
        self.target = (host, port)
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.server.accept()
            except OSError:  # closed
                return
            upstream = socket.create_connection(self.target)
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(source, sink), daemon=True).start()

    @staticmethod
    def _pipe(source: socket.socket, sink: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while data := source.recv(65536):
                sink.sendall(data)
        with contextlib.suppress(OSError):
            sink.shutdown(socket.SHUT_WR)

    def close(self) -> None:
        self.server.close()
