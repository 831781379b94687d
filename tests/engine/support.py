"""What the worker and batching tests share: a gate server, batches written straight into the
platform database, flow runs created on a deployment of a test pool, and Flowyard worker processes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
from prefect.client.orchestration import SyncPrefectClient
from prefect.exceptions import PrefectHTTPStatusError
from sqlalchemy import update

from core import prefect_client as prefect_retries
from engine.publish import BatchLimits, DeploymentTarget, upsert_deployment
from store import Batch, Execution, ExecutionStatus
from store.db import get_session_factory


def wait_until(condition: Callable[[], Any], timeout: float = 120, what: str = "condition", interval: float = 0.3):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")


class GateServer:
    """A local HTTP server. `/hold/...` answers only once `release()` is called; `/flaky/<key>` answers
    503 the first time it sees a key and 200 after; `/bad/...` answers 400; anything else 200."""

    def __init__(self) -> None:
        self.released = threading.Event()
        self.held: list[str] = []
        self.seen: dict[str, int] = {}
        self.lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def _handle(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                if length:
                    self.rfile.read(length)
                path = self.path.split("?")[0]
                with server.lock:
                    server.seen[path] = server.seen.get(path, 0) + 1
                    count = server.seen[path]
                status = 200
                if path.startswith("/hold/"):
                    with server.lock:
                        server.held.append(path)
                    server.released.wait(300)
                elif path.startswith("/flaky/") and count == 1:
                    status = 503
                elif path.startswith("/bad/"):
                    status = 400
                body = b'{"ok": true}' if status == 200 else b'{"error": "no"}'
                try:
                    self.send_response(status)
                    self.send_header("content-type", "application/json")
                    self.send_header("content-length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                except OSError:  # the caller is gone (cancelled or killed)
                    pass

            do_GET = do_POST = _handle

            def log_message(self, *args: Any) -> None:
                pass

        class Server(ThreadingHTTPServer):
            daemon_threads = True
            request_queue_size = 512  # a batch connects 50 at once; the default backlog of 5 would refuse some

        self._server = Server(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def reset(self) -> None:
        with self.lock:
            self.seen.clear()
            self.held.clear()

    def stop(self) -> None:
        self.released.set()
        self._server.shutdown()


def platform_db_url(stack) -> str:
    return stack.env.get("FLOWYARD_DATABASE_URL") or f"sqlite:///{stack.home / 'platform.db'}"


def prefect_client(stack) -> SyncPrefectClient:
    return SyncPrefectClient(stack.prefect_url, auth_string=stack.auth_string, httpx_settings={"timeout": 60})


class Workflow:
    """A workflow created through the API, a deployment of it on `pool`, and batches of it run by hand."""

    def __init__(self, stack, api, graph: dict, pool: str) -> None:
        created = api.post("/api/v1/workflows", json={"name": f"wf {uuid.uuid4().hex[:6]}", "graph": graph})
        assert created.status_code == 201, created.text
        self.stack, self.id, self.version = stack, created.json()["id"], created.json()["version"]
        tenant = api.signup_body["tenant"]
        self.tenant_id = tenant["id"]
        target = DeploymentTarget(tenant["id"], tenant["slug"], f"test-{uuid.uuid4().hex[:8]}", "worker tests")
        with prefect_client(stack) as client:
            # Limits far above these tests' loads: here the worker's own limit is under test.
            limits = BatchLimits(per_workflow=1000, per_tenant=1000)
            self.deployment_id = str(
                upsert_deployment(client, target=target, work_pool=pool, known_id=None, limits=limits)
            )
        self.sessions = get_session_factory(platform_db_url(stack))

    def run_batch(self, inputs: list[dict]) -> tuple[str, str, list[str]]:
        """One batch of these executions and its flow run: (batch id, flow run id, execution ids)."""
        with self.sessions.begin() as db:
            # The platform's dispatcher may submit this batch too: the idempotency key makes it one flow run.
            batch = Batch(
                tenant_id=self.tenant_id, workflow_id=self.id, version=self.version, deployment_id=self.deployment_id
            )
            db.add(batch)
            db.flush()
            executions = [
                Execution(
                    tenant_id=self.tenant_id,
                    workflow_id=self.id,
                    version=self.version,
                    mode="live",
                    deployment_id=self.deployment_id,
                    status=ExecutionStatus.BATCHED,
                    input=payload,
                    batch_id=batch.id,
                )
                for payload in inputs
            ]
            db.add_all(executions)
            db.flush()
            batch_id, execution_ids = batch.id, [e.id for e in executions]
        try:
            flow_run_id = self._create_flow_run(batch_id)
        except PrefectHTTPStatusError as exc:  # a swamped SQLite Prefect kept answering 503
            if exc.response.status_code != 503:
                raise
            flow_run_id = wait_until(
                lambda: self._flow_run_of(batch_id), timeout=300, what="the dispatcher to create the batch's flow run"
            )
        return batch_id, flow_run_id, execution_ids

    def _create_flow_run(self, batch_id: str) -> str:
        """What the dispatcher does; if it fails, the dispatcher submits the batch again on a later pass."""
        with prefect_client(self.stack) as client:
            prefect_retries.install(client)
            flow_run = prefect_retries.call(
                client.create_flow_run_from_deployment,
                self.deployment_id,
                parameters={"batch_id": batch_id},
                idempotency_key=f"batch-{batch_id}",
            )
        with self.sessions.begin() as db:
            db.execute(update(Batch).where(Batch.id == batch_id).values(flow_run_id=str(flow_run.id)))
        return str(flow_run.id)

    def _flow_run_of(self, batch_id: str) -> str | None:
        with self.sessions() as db:
            return db.get(Batch, batch_id).flow_run_id

    def status(self, execution_id: str) -> str:
        with self.sessions() as db:
            return db.get(Execution, execution_id).status


def flow_run_state(stack, flow_run_id: str) -> str:
    with prefect_client(stack) as client:
        return client.read_flow_run(uuid.UUID(flow_run_id)).state_type.value


class WorkerProcess:
    """`python -m engine.worker` on its own pool, with the stack's settings."""

    def __init__(self, stack, pool: str, limit: int, **settings: str) -> None:
        self._start(
            stack,
            pool,
            [sys.executable, "-m", "engine.worker", "--pool", pool, "--limit", str(limit)],
            {
                "FLOWYARD_WORKER__HEARTBEAT_SECONDS": "2",
                **{f"FLOWYARD_WORKER__{k.upper()}": v for k, v in settings.items()},
            },
        )

    def _start(self, stack, pool: str, argv: list[str], env: dict[str, str]) -> None:
        self.stack, self.pool = stack, pool
        self.log_path = Path(stack.home) / f"worker-{pool}.log"
        self.log = open(self.log_path, "ab")
        self.process = subprocess.Popen(
            argv,
            env={**stack.env, "PREFECT_API_URL": stack.prefect_url, **env},
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        wait_until(self._registered, timeout=120, what=f"worker on {pool} to register\n{self.log_tail()}")

    def _registered(self) -> bool:
        if self.process.poll() is not None:
            raise AssertionError(f"worker exited {self.process.returncode}:\n{self.log_tail()}")
        response = httpx.post(
            f"{self.stack.prefect_url}/work_pools/{self.pool}/workers/filter",
            json={},
            timeout=5,
            auth=self.stack.prefect_auth,
        )
        return response.status_code == 200 and bool(response.json())

    def log_tail(self) -> str:
        return self.log_path.read_text(errors="replace")[-3000:] if self.log_path.exists() else ""

    def signal(self, sig: signal.Signals) -> None:
        os.kill(self.process.pid, sig)

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
        self.log.close()


class PrefectProcessWorker(WorkerProcess):
    """Prefect's own process worker (`prefect worker start --type process`) on its own pool."""

    def __init__(self, stack, pool: str, limit: int = 2) -> None:
        self._start(
            stack,
            pool,
            [
                sys.executable,
                "-m",
                "prefect",
                "worker",
                "start",
                "--pool",
                pool,
                "--type",
                "process",
                "--limit",
                str(limit),
                "--install-policy",
                "never",
            ],
            {"PREFECT_WORKER_QUERY_SECONDS": "1"},
        )
