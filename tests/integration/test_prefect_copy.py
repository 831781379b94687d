"""Prefect's copy of an execution holds no payload (issue 22, item 3), on SQLite and on PostgreSQL: a run whose
input carries unique markers leaves none in any table of Prefect's database, in Prefect's home or in a log file,
while the operator still sees the tenant, the workflow, the node and the error class, and the tenant still gets
the run's data from the platform API. A fault inside a task run, or an exception logged in a flow run, is
recorded by Prefect as its class only."""

from __future__ import annotations

import asyncio
import json
import random
import sqlite3
import time
import uuid
from collections.abc import Callable
from contextlib import closing
from pathlib import Path
from typing import Any

import httpx
import psycopg
from prefect import flow, get_run_logger
from prefect.events.worker import EventsWorker
from prefect.logging.handlers import APILogWorker
from prefect.settings import PREFECT_API_AUTH_STRING, PREFECT_API_URL, temporary_settings
from sqlalchemy import select

from core.payload_free import keep_payloads_out_of_prefect_logs
from flow_factory import interpreter
from store import Batch, Execution
from store.db import get_session_factory
from tests.engine.support import platform_db_url
from tests.support import Api, edge, graph, node, publish, start_run, steps_by_node


def _markers() -> dict[str, str]:
    return {
        "email": f"marker-{uuid.uuid4().hex}@example.com",
        "phone": f"+1555{random.randrange(10**7):07d}",
        "note": f"zz-{uuid.uuid4().hex}",
    }


def postgres_rows(url: str) -> list[tuple[str, str]]:
    """(table, row as text) of every row of every table of a PostgreSQL database."""
    with psycopg.connect(url) as db:
        tables = db.execute(
            "SELECT table_name FROM information_schema.tables"
            " WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'"
        ).fetchall()
        return [(table, row) for (table,) in tables for (row,) in db.execute(f'SELECT t::text FROM "{table}" t')]


def _prefect_rows(stack) -> list[tuple[str, str]]:
    """(table, row as text) of every row of every table of the stack's Prefect database."""
    url = stack.env.get("FLOWYARD_PREFECT__DATABASE_URL")
    if url:
        return postgres_rows(url.replace("postgresql+asyncpg://", "postgresql://"))
    with closing(sqlite3.connect(f"file:{stack.home / 'prefect' / 'prefect.db'}?mode=ro", uri=True)) as db:
        tables = db.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall()
        return [(table, repr(row)) for (table,) in tables for row in db.execute(f'SELECT * FROM "{table}"')]


def _eventually(probe: Callable[[], Any], what: str) -> Any:
    """`probe()` once it is truthy: Prefect records logs, events and task runs a while after they happen."""
    deadline = time.monotonic() + 90
    while not (found := probe()):
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(1)
    return found


def _wait_for_rows(stack, *conditions: Callable[[list[tuple[str, str]]], bool]) -> list[tuple[str, str]]:
    """Prefect's rows once every condition holds."""

    def rows() -> list[tuple[str, str]] | None:
        found = _prefect_rows(stack)
        return found if all(condition(found) for condition in conditions) else None

    return _eventually(rows, "what the run leaves in Prefect's database")


def _row_with(table: str, *texts: str) -> Callable[[list[tuple[str, str]]], bool]:
    return lambda rows: any(name == table and all(text in row for text in texts) for name, row in rows)


def _leaks(places: list[tuple[Any, str]], markers: dict[str, str]) -> list[tuple[Any, str]]:
    return [(where, marker) for where, text in places for marker in markers.values() if marker in text.lower()]


def _files(root: Path, pattern: str) -> list[tuple[Path, str]]:
    return [(path, path.read_bytes().decode(errors="replace")) for path in root.rglob(pattern) if path.is_file()]


def _prefect(stack, method: str, path: str, **kwargs: Any) -> Any:
    response = httpx.request(method, stack.prefect_url + path, auth=stack.prefect_auth, timeout=30, **kwargs)
    assert response.status_code == 200, response.text
    return response.json()


def test_a_run_leaves_no_payload_in_prefect(stack, target_server):
    marks = _markers()
    path = f"/refuse-{uuid.uuid4().hex[:8]}"  # a service that refuses the data and quotes it back
    target_server.responses[path] = (422, {"content-type": "application/json"}, json.dumps({"refused": marks}).encode())
    owner = Api(stack.api_url).signup()
    tenant = owner.signup_body["tenant"]
    shape = {"email": "{{ trigger.email }}", "phone": "{{ trigger.phone }}", "summary": "Note: {{ trigger.note }}"}
    workflow_id = publish(
        owner,
        "Planted data",
        graph(
            [
                node("start", "trigger.manual"),
                node("shape", "data.transform", {"fields": shape}),
                node("say", "util.log", {"message": "Contact {{ steps.shape.output.email }}, {{ trigger.phone }}"}),
                node(
                    "notify",
                    "http.request",
                    {
                        "method": "POST",
                        "url": target_server.url + path + "?ref={{ steps.shape.output.email }}",
                        "json_body": {"who": "{{ steps.shape.output }}"},
                    },
                ),
            ],
            [edge("start", "shape"), edge("shape", "say"), edge("say", "notify")],
        ),
    )

    run = owner.wait_for_run(start_run(owner, workflow_id, marks))

    # the owner gets the run's data back
    assert run["status"] == "failed", run
    steps = steps_by_node(run)
    assert steps["start"]["output"] == marks
    assert steps["shape"]["output"] == {
        **{k: marks[k] for k in ("email", "phone")},
        "summary": f"Note: {marks['note']}",
    }
    assert marks["email"] in steps["say"]["output"]["message"]
    assert marks["note"] in steps["notify"]["error"]["message"] and run["error"]["node_id"] == "notify"
    assert [r for r in target_server.requests if r.path.startswith(path) and marks["phone"] in r.body.decode()]

    with get_session_factory(platform_db_url(stack))() as db:
        batch_id, flow_run_id = db.execute(
            select(Batch.id, Batch.flow_run_id)
            .join(Execution, Execution.batch_id == Batch.id)
            .where(Execution.id == run["id"])
        ).one()
    flow_run = _prefect(stack, "GET", f"/flow_runs/{flow_run_id}")
    assert flow_run["parameters"] == {"batch_id": batch_id}  # ids only
    # the operator finds the tenant, the workflow and the node, and reads the error class
    assert flow_run["name"].startswith(f"{tenant['slug']}/planted-data-") and flow_run["state_type"] == "COMPLETED"
    assert {f"t-{tenant['slug']}", f"tenant:{tenant['id']}"} <= set(flow_run["tags"])
    task_runs = {"flow_runs": {"id": {"any_": [flow_run_id]}}}
    _eventually(
        lambda: {t["name"] for t in _prefect(stack, "POST", "/task_runs/filter", json=task_runs)}
        == {*steps} - {"start"},
        "a task run per node but the trigger, named after it",
    )
    rows = _wait_for_rows(  # the flow run's last log line and event: what came before is in too
        stack,
        _row_with("log", flow_run_id, "Finished in state Completed"),
        _row_with("events", f"prefect.flow-run.{flow_run_id}", "prefect.flow-run.Completed"),
    )

    assert _leaks(rows, marks) == []
    prefect_home = stack.home / "prefect"
    assert _leaks(_files(prefect_home, "*"), marks) == []  # the SQLite database's file too, with its WAL
    assert _leaks(_files(stack.home, "*.log"), marks) == []
    assert [p for p in (prefect_home / "storage").rglob("*") if p.is_file()] == []  # no result was persisted
    failure = f"[run {run['id']}] [notify] http.request failed (attempt 1): Permanent (validation)"
    assert _row_with("log", failure)(rows)


def test_a_fault_in_a_task_run_and_a_logged_exception_leave_only_their_class(stack, monkeypatch):
    marks = _markers()

    async def broken(call: Any, *, logger: Any) -> Any:
        raise ValueError(f"the service answered {marks}")

    monkeypatch.setattr(interpreter, "run_node_call", broken)
    name = f"payload-free-{uuid.uuid4().hex[:8]}"

    @flow(name=name, persist_result=False)
    async def faulty() -> None:
        keep_payloads_out_of_prefect_logs()
        try:
            raise KeyError(marks["email"])
        except KeyError:
            get_run_logger().exception("could not read %s", "the input")
        await interpreter.run_node("notify", 1, None)

    with temporary_settings({PREFECT_API_URL: stack.prefect_url, PREFECT_API_AUTH_STRING: stack.auth_string}):
        state = asyncio.run(faulty(return_state=True))
        for sender in (EventsWorker, APILogWorker):  # send everything, and let the next stack's run start afresh
            sender.drain_all(timeout=30)

    assert state.is_failed()
    flow_run_id = str(state.state_details.flow_run_id)
    failed = {"flow_runs": {"id": {"any_": [flow_run_id]}}, "task_runs": {"state": {"type": {"any_": ["FAILED"]}}}}
    [task_run] = _eventually(  # the server records the run's state type a moment before its state
        lambda: [t for t in _prefect(stack, "POST", "/task_runs/filter", json=failed) if t["state"]],
        "the failed task run with its state",
    )
    assert task_run["name"] == "notify"
    assert task_run["state"]["message"].endswith("PayloadFreeError: ValueError (internal)")
    rows = _wait_for_rows(
        stack,
        _row_with("log", flow_run_id, "Finished in state Failed"),
        _row_with("events", f"prefect.task-run.{task_run['id']}", "prefect.task-run.Failed"),
    )
    assert _leaks(rows, marks) == []
    assert _row_with("log", flow_run_id, "could not read the input [KeyError (internal)]")(rows)
