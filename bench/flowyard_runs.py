"""Flowyard's side of the benchmarks: the benchmark workflow through the public API of a running stack."""

from __future__ import annotations

import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from itertools import pairwise

import httpx
from sqlalchemy import func, select

from store import Batch, Execution, StepResult
from store.db import get_session_factory

FINAL = ("completed", "failed", "cancelled")

HOPS = (
    "sent->created",
    "created->claimed",
    "claimed->flow run created",
    "flow run created->Pending (pick-up)",
    "Pending->Running (engine start)",
    "Running->execution running",
    "steps (first start->last end)",
    "last step->execution ended",
    "ended->flow run Completed",
    "sent->ended (total)",
)


def _epoch(value: datetime | None) -> float | None:
    if value is None:
        return None
    return value.replace(tzinfo=value.tzinfo or UTC).timestamp()


def node(id: str, type: str, config: dict, x: int = 0) -> dict:
    return {"id": id, "type": type, "label": id, "config": config, "position": {"x": x, "y": 0}}


def chain(*nodes: dict, handles: dict[str, str] | None = None) -> dict:
    edges = [
        {
            "id": f"e{i}",
            "source": a["id"],
            "target": b["id"],
            **({"source_handle": handles[a["id"]]} if handles and a["id"] in handles else {}),
        }
        for i, (a, b) in enumerate(pairwise(nodes))
    ]
    return {"nodes": list(nodes), "edges": edges}


def benchmark_graph(url: str) -> dict:
    """trigger.manual -> logic.if -> http.request -> data.transform -> util.log"""
    return chain(
        node("start", "trigger.manual", {}),
        node("check", "logic.if", {"expression": "trigger.x > 3"}),
        node(
            "call",
            "http.request",
            {
                "method": "POST",
                "url": url + "/{{ trigger.tag }}/{{ execution.id }}",
                "json_body": {"key": "{{ trigger.key }}"},
            },
        ),
        node(
            "shape",
            "data.transform",
            {"fields": {"name": "{{ trigger.key }}", "status": "{{ steps.call.output.status_code }}"}},
        ),
        node("done", "util.log", {"message": "done {{ steps.shape.output.name }}"}),
        handles={"check": "true"},
    )


def waiting_graph() -> dict:
    return chain(
        node("start", "trigger.manual", {}),
        node("wait", "logic.delay", {"minutes": 30}),
        node("done", "util.log", {"message": "woke up"}),
    )


class Platform:
    """One tenant on a running stack."""

    def __init__(self, stack) -> None:
        self.stack = stack
        self.http = httpx.Client(
            base_url=stack.api_url, timeout=120, limits=httpx.Limits(max_connections=64, max_keepalive_connections=64)
        )
        body = {
            "tenant_name": f"Bench {uuid.uuid4().hex[:6]}",
            "email": f"{uuid.uuid4().hex[:10]}@example.com",
            "password": "correct horse battery",
        }
        response = self.http.post("/api/v1/signup", json=body)
        response.raise_for_status()
        self.http.headers["Authorization"] = f"Bearer {response.json()['token']}"
        self.sessions = get_session_factory(stack.platform_db_url)
        self.rejected = 0

    def publish(self, graph: dict, name: str | None = None) -> str:
        created = self.http.post(
            "/api/v1/workflows", json={"name": name or f"wf {uuid.uuid4().hex[:6]}", "graph": graph}
        )
        created.raise_for_status()
        workflow_id = created.json()["id"]
        self.http.post(f"/api/v1/workflows/{workflow_id}/publish").raise_for_status()
        return workflow_id

    def trigger(self, workflow_id: str, payload: dict) -> tuple[str, float] | None:
        """(run id, time sent), or None if the API did not accept it (counted in `rejected`)."""
        sent = time.time()
        response = self.http.post(f"/api/v1/workflows/{workflow_id}/runs", json={"input": payload})
        if response.status_code != 202:
            self.rejected += 1
            return None
        return response.json()["run_id"], sent

    def burst(self, workflow_id: str, payloads: list[dict], clients: int = 16) -> list[tuple[str, float]]:
        """Accepted triggers, sent by `clients` concurrent clients."""
        with ThreadPoolExecutor(clients) as pool:
            return [r for r in pool.map(lambda p: self.trigger(workflow_id, p), payloads) if r]

    def paced(self, workflow_id: str, payloads: list[dict], per_second: float) -> list[tuple[str, float]]:
        """Open-loop load: one trigger every 1/per_second seconds, whatever the answers take."""
        results: list[tuple[str, float]] = []
        lock = threading.Lock()
        start = time.monotonic()
        with ThreadPoolExecutor(32) as pool:
            for i, payload in enumerate(payloads):
                time.sleep(max(0.0, start + i / per_second - time.monotonic()))

                def fire(p=payload):
                    result = self.trigger(workflow_id, p)
                    with lock:
                        if result:
                            results.append(result)

                pool.submit(fire)
        return results

    def count(self, workflow_id: str, statuses: tuple[str, ...]) -> int:
        with self.sessions() as db:
            return db.scalar(
                select(func.count())
                .select_from(Execution)
                .where(Execution.workflow_id == workflow_id, Execution.status.in_(statuses))
            )

    def wait_for(self, workflow_id: str, statuses: tuple[str, ...], n: int, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while self.count(workflow_id, statuses) < n:
            if time.monotonic() > deadline:
                raise TimeoutError(f"only {self.count(workflow_id, statuses)} of {n} executions reached {statuses}")
            time.sleep(0.25)

    def wait_steady(
        self, workflow_id: str, statuses: tuple[str, ...], n: int, timeout: float, still: float = 10
    ) -> int:
        """Wait until n executions reach `statuses`, or their count stops growing for `still` seconds."""
        deadline, best, since = time.monotonic() + timeout, -1, time.monotonic()
        while time.monotonic() < deadline:
            count = self.count(workflow_id, statuses)
            if count >= n:
                return count
            if count > best:
                best, since = count, time.monotonic()
            elif time.monotonic() - since > still:
                return count
            time.sleep(0.5)
        return self.count(workflow_id, statuses)

    def ended(self, run_ids: list[str]) -> dict[str, tuple[str, float, str | None]]:
        """run id -> (status, ended_at as epoch seconds, flow run id of its batch)."""
        out = {}
        with self.sessions() as db:
            for i in range(0, len(run_ids), 500):
                rows = db.execute(
                    select(Execution.id, Execution.status, Execution.ended_at, Batch.flow_run_id)
                    .join(Batch, Batch.id == Execution.batch_id, isouter=True)
                    .where(Execution.id.in_(run_ids[i : i + 500]))
                ).all()
                for id, status, ended_at, flow_run_id in rows:
                    ended = ended_at.replace(tzinfo=ended_at.tzinfo or UTC).timestamp() if ended_at else None
                    out[id] = (status, ended, flow_run_id)
        return out

    def hops(self, run_id: str, sent: float) -> dict[str, float]:
        """Seconds spent in each hop (HOPS) of one finished execution, from platform-database timestamps and
        Prefect's flow-run state history; plus each step's duration ('step <node>') and its task run's."""
        from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

        from bench import raw

        # only the columns that are not sealed: this process has no key to open the run's payloads
        with self.sessions() as db:
            execution = db.execute(
                select(Execution.created_at, Execution.started_at, Execution.ended_at, Execution.batch_id).where(
                    Execution.id == run_id
                )
            ).one()
            batch = db.get(Batch, execution.batch_id)
            steps = db.execute(
                select(StepResult.node_id, StepResult.started_at, StepResult.ended_at).where(
                    StepResult.execution_id == run_id
                )
            ).all()
        flow_run_id = uuid.UUID(batch.flow_run_id)
        with raw.client(self.stack) as c:
            flow_run = c.read_flow_run(flow_run_id)
            states = {s.type.value: s.timestamp.timestamp() for s in reversed(c.read_flow_run_states(flow_run_id))}
            tasks = c.read_task_runs(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[flow_run_id])))
        created, claimed, ended = _epoch(execution.created_at), _epoch(batch.created_at), _epoch(execution.ended_at)
        starts = [_epoch(s.started_at) for s in steps if s.started_at]
        ends = [_epoch(s.ended_at) for s in steps if s.ended_at]
        nan = float("nan")
        out = {
            "sent->created": created - sent,
            "created->claimed": claimed - created,
            "claimed->flow run created": flow_run.created.timestamp() - claimed,
            "flow run created->Pending (pick-up)": states.get("PENDING", nan) - flow_run.created.timestamp(),
            "Pending->Running (engine start)": states.get("RUNNING", nan) - states.get("PENDING", nan),
            "Running->execution running": _epoch(execution.started_at) - states.get("RUNNING", nan),
            "steps (first start->last end)": max(ends) - min(starts) if starts and ends else nan,
            "last step->execution ended": ended - max(ends) if ends else nan,
            "ended->flow run Completed": states.get("COMPLETED", nan) - ended,
            "sent->ended (total)": ended - sent,
        }
        for step in sorted(steps, key=lambda s: s.started_at):
            if step.started_at and step.ended_at:
                out[f"step {step.node_id}"] = _epoch(step.ended_at) - _epoch(step.started_at)
        for task in tasks:
            if task.start_time and task.end_time:
                out[f"task {task.name}"] = task.end_time.timestamp() - task.start_time.timestamp()
        return out
