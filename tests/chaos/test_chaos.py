"""Chaos: a process of `flowyard up` is SIGKILLed while executions are in flight, and nothing is lost or doubled.

Each trial fires executions of one workflow (an HTTP POST to a sink that honours Idempotency-Key, then a SendGrid
email to an address of the execution's own), then at a random moment kills the worker, the platform API or the
Prefect server (and lets `flowyard up` restart it), or restarts PostgreSQL as a crash would (`pg_ctl -m immediate`,
down for up to 3 s), and waits for every accepted execution to end. Over all trials of a fault:
- every accepted execution ended `completed` or `needs_attention` (none lost, none failed for the crash);
- the sink acted once per Idempotency-Key, and every completed execution's key was acted on;
- SendGrid never received the same execution's email twice, and every completed execution's once.

`FLOWYARD_CHAOS_TRIALS` trials per fault (5 in `make test`, 25 in `make chaos`); the table of trials is printed.
The process faults share one stack on SQLite; the PostgreSQL fault has a stack on a PostgreSQL server of its own
(tests/pg_cluster.py), holding both the platform's database and Prefect's, which it restarts."""

from __future__ import annotations

import json
import os
import random
import signal
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest

from core.settings import Settings
from tests.conftest import Stack, _start_stack
from tests.pg_cluster import Cluster, scratch_directory
from tests.support import Api, current_pid, edge, graph, log_lines, node, publish, sendgrid_connection

TRIALS = int(os.environ.get("FLOWYARD_CHAOS_TRIALS", "5"))
EXECUTIONS_PER_TRIAL = 6
ENDED = ("completed", "needs_attention", "failed", "cancelled")
CHILD_OF_FAULT = {"worker": "worker", "api": "platform-api", "prefect": "prefect-server"}


class IdempotentSink:
    """A service that honours Idempotency-Key: the first request with a key acts (after `sleep` seconds, so a kill
    can land mid-call); a repeat gets the first answer back and acts again never."""

    def __init__(self) -> None:
        self.acted: Counter[str] = Counter()
        self.seen: Counter[str] = Counter()
        self._answers: dict[str, bytes] = {}
        self._lock = threading.Lock()
        sink = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                key = self.headers.get("idempotency-key") or ""
                self.rfile.read(int(self.headers.get("content-length") or 0))
                answer = sink.answer(key)
                try:
                    self.send_response(200)
                    self.send_header("content-type", "application/json")
                    self.send_header("content-length", str(len(answer)))
                    self.end_headers()
                    self.wfile.write(answer)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the worker that asked was killed meanwhile

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"

    def answer(self, key: str) -> bytes:
        with self._lock:
            self.seen[key] += 1
            if key in self._answers:
                return self._answers[key]
        time.sleep(random.uniform(0.1, 0.8))
        with self._lock:
            if key not in self._answers:  # two at once with one key: the first to finish acts
                self.acted[key] += 1
                self._answers[key] = json.dumps({"done": key}).encode()
            return self._answers[key]

    def stop(self) -> None:
        self._server.shutdown()


@dataclass
class Trial:
    fault: str
    number: int
    killed_after: float
    outcomes: Counter[str] = field(default_factory=Counter)
    seconds: float = 0.0


@pytest.fixture(scope="module")
def sink() -> Iterator[IdempotentSink]:
    server = IdempotentSink()
    yield server
    server.stop()


# Workers heartbeat every 2 s and the dispatcher reconciles every 2 s, so a dead worker is noticed in ~15 s; and
# `flowyard up` keeps restarting a child killed more than 10 times in 10 minutes (which it otherwise takes for a
# crash loop).
FAST = {
    "FLOWYARD_WORKER__HEARTBEAT_SECONDS": "2",
    "FLOWYARD_DISPATCHER__RECONCILE_SECONDS": "2",
    "FLOWYARD_SUPERVISION__MAX_RESTARTS": str(10 * TRIALS),
}


@pytest.fixture(scope="module", params=["sqlite"])
def chaos_stack(request, tmp_path_factory) -> Iterator[Stack]:
    yield from _start_stack(request, tmp_path_factory, extra_env=FAST)


@pytest.fixture(scope="module")
def own_postgres() -> Iterator[Cluster]:
    with scratch_directory("flowyard-chaos-") as scratch:
        cluster = Cluster(Settings(home=scratch / "home"), scratch / "data")
        try:
            cluster.initdb(max_connections=200)
            cluster.start()
            cluster.create_database("platform")
            cluster.create_database("prefect")
            yield cluster
        finally:
            cluster.stop()


@pytest.fixture(scope="module", params=["own-postgres"])
def postgres_chaos_stack(request, tmp_path_factory, own_postgres: Cluster) -> Iterator[Stack]:
    databases = {
        "FLOWYARD_DATABASE_URL": own_postgres.url("platform"),
        "FLOWYARD_PREFECT__DATABASE_URL": own_postgres.url("prefect", driver="asyncpg"),
    }
    yield from _start_stack(request, tmp_path_factory, extra_env=FAST | databases)


@pytest.fixture(scope="module")
def table() -> Iterator[list[Trial]]:
    trials: list[Trial] = []
    yield trials
    print("\nfault     trial  killed after  completed  needs_attention  failed  lost  seconds")
    for t in trials:
        o = t.outcomes
        print(
            f"{t.fault:<9} {t.number:>5}  {t.killed_after:>10.2f} s  {o['completed']:>9}  {o['needs_attention']:>15}"
            f"  {o['failed'] + o['cancelled']:>6}  {o['lost']:>4}  {t.seconds:>7.1f}"
        )


def _workflow(api: Api, sink: IdempotentSink, fake_services) -> str:
    connection = sendgrid_connection(api, fake_services)
    mail = {"connection": connection, "to": "{{ trigger.to }}", "subject": "Your order", "text": "Thanks"}
    call = {"method": "POST", "url": f"{sink.url}/orders", "json_body": {"to": "{{ trigger.to }}"}}
    flow = graph(
        [node("start", "trigger.manual"), node("call", "http.request", call), node("email", "email.sendgrid", mail)],
        [edge("start", "call"), edge("call", "email")],
    )
    return publish(api, "Chaos orders", flow)


def _current_pid(stack: Stack, child: str) -> int:
    pid = current_pid(stack.home / "logs" / "supervisor.log", child)
    assert pid is not None, log_lines(stack.home / "logs" / "supervisor.log")
    return pid


def _wait(condition, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"not within {timeout} s: {what}"
        time.sleep(0.5)


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def _status(api: Api, run_id: str) -> str | None:
    try:
        answer = api.get(f"/api/v1/runs/{run_id}")
    except httpx.HTTPError:  # the API is being restarted
        return None
    return answer.json()["status"] if answer.status_code == 200 else None


def _kill_and_await_restart(stack: Stack, fault: str) -> None:
    child = CHILD_OF_FAULT[fault]
    before = _current_pid(stack, child)
    os.kill(before, signal.SIGKILL)
    _wait(lambda: _current_pid(stack, child) != before, 120, f"{child} to be restarted")
    health = {"api": f"{stack.api_url}/api/v1/health/live", "prefect": f"{stack.prefect_url}/health"}.get(fault)
    if health:
        _wait(lambda: _answers(health), 180, f"{child} to answer again")


def _restart_postgres(cluster: Cluster) -> None:
    cluster.stop()
    time.sleep(random.uniform(0, 3))
    cluster.start()


def _trial(
    api: Api, workflow_id: str, trial: Trial, fault: Callable[[], None]
) -> tuple[dict[str, str], dict[str, str]]:
    """Fire the executions, do the fault, wait for them to end: (their email address, their status), by run id."""
    started = time.monotonic()
    addresses: dict[str, str] = {}
    for _ in range(EXECUTIONS_PER_TRIAL):
        to = f"chaos-{uuid.uuid4().hex[:10]}@example.com"
        addresses[api.post(f"/api/v1/workflows/{workflow_id}/runs", json={"input": {"to": to}}).json()["run_id"]] = to
    time.sleep(trial.killed_after)
    fault()
    ended: dict[str, str] = {}

    def all_ended() -> bool:
        for run_id in addresses.keys() - ended.keys():
            status = _status(api, run_id)
            if status in ENDED:
                ended[run_id] = status
        return len(ended) == len(addresses)

    try:
        _wait(all_ended, 300, "every accepted execution to end")
    except AssertionError as exc:
        left = {run_id: _status(api, run_id) for run_id in addresses.keys() - ended.keys()}
        raise AssertionError(f"{exc}; still {left}") from None
    finally:
        trial.outcomes.update(ended.values())
        trial.outcomes["lost"] = len(addresses) - len(ended)
        trial.seconds = time.monotonic() - started
    return addresses, ended


def _trials(
    api: Api, workflow_id: str, name: str, fault: Callable[[], None], table: list[Trial]
) -> dict[str, tuple[str, str]]:
    """Every trial of one fault: the email address and the status of each execution they fired, by run id."""
    runs: dict[str, tuple[str, str]] = {}
    for number in range(1, TRIALS + 1):
        trial = Trial(name, number, killed_after=random.uniform(0.2, 3.0))
        table.append(trial)
        addresses, statuses = _trial(api, workflow_id, trial, fault)
        runs |= {run_id: (addresses[run_id], status) for run_id, status in statuses.items()}
    return runs


def _assert_none_lost_or_doubled(runs: dict[str, tuple[str, str]], sink: IdempotentSink, sendgrid) -> None:
    assert {status for _, status in runs.values()} <= {"completed", "needs_attention"}, Counter(runs.values())
    for run_id, (address, status) in runs.items():
        key = f"{run_id}-call"
        assert sink.acted[key] <= 1
        emails = sendgrid.delivered_to(address)
        assert len(emails) <= 1, f"{address} got {len(emails)} emails"
        if status == "completed":
            assert sink.acted[key] == 1 and len(emails) == 1, (run_id, sink.acted[key], len(emails))


@pytest.mark.stack
@pytest.mark.parametrize("fault", ["worker", "api", "prefect"])
def test_a_killed_process_loses_and_doubles_nothing(chaos_stack, sink, fake_services, table, fault):
    api = Api(chaos_stack.api_url).signup()
    workflow_id = _workflow(api, sink, fake_services)
    runs = _trials(api, workflow_id, fault, lambda: _kill_and_await_restart(chaos_stack, fault), table)
    _assert_none_lost_or_doubled(runs, sink, fake_services.sendgrid)


@pytest.mark.stack
def test_a_restarted_database_loses_and_doubles_nothing(postgres_chaos_stack, own_postgres, sink, fake_services, table):
    api = Api(postgres_chaos_stack.api_url).signup()
    workflow_id = _workflow(api, sink, fake_services)
    runs = _trials(api, workflow_id, "postgres", lambda: _restart_postgres(own_postgres), table)
    _assert_none_lost_or_doubled(runs, sink, fake_services.sendgrid)
