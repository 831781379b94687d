"""Raw Prefect's side: the five-step flow (a) through a process work pool and (b) called in-process."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
import uuid
from datetime import datetime

from prefect.client.orchestration import SyncPrefectClient
from prefect.client.schemas.actions import WorkPoolCreate
from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId, TaskRunFilter, TaskRunFilterName
from prefect.settings import PREFECT_API_AUTH_STRING, PREFECT_API_URL, temporary_settings

from bench.stack import ROOT, rss_mb

ENTRYPOINT = "bench.raw_flow.raw_five_steps"


def client(stack) -> SyncPrefectClient:
    return SyncPrefectClient(stack.prefect_url, auth_string=stack.auth_string, httpx_settings={"timeout": 120})


def call_start_times(stack, flow_run_ids: list[str], wait: float = 60) -> dict[str, float]:
    """flow run id -> start time (epoch s) of its first task run named like `call`. Prefect records task
    runs from events, behind the runs themselves: wait up to `wait` seconds for all of them."""
    deadline = time.monotonic() + wait
    while True:
        starts = _call_start_times(stack, flow_run_ids)
        if len(starts) >= len(set(flow_run_ids)) or time.monotonic() > deadline:
            return starts
        time.sleep(2)


def _call_start_times(stack, flow_run_ids: list[str]) -> dict[str, float]:
    starts: dict[str, float] = {}
    with client(stack) as c:
        for i in range(0, len(flow_run_ids), 100):
            ids = [uuid.UUID(f) for f in flow_run_ids[i : i + 100]]
            for offset in range(0, 10_000, 200):
                runs = c.read_task_runs(
                    flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=ids)),
                    task_run_filter=TaskRunFilter(name=TaskRunFilterName(like_="call")),
                    limit=200,
                    offset=offset,
                )
                for run in runs:
                    if run.start_time:
                        key, start = str(run.flow_run_id), run.start_time.timestamp()
                        starts[key] = min(start, starts.get(key, start))
                if len(runs) < 200:
                    break
    return starts


def through_process_pool(stack, target_url: str, n: int) -> dict:
    """n flow runs of a deployment on a process work pool, all at once, Prefect's process worker with limit n."""
    pool = f"raw-process-{uuid.uuid4().hex[:6]}"
    with client(stack) as c:
        from prefect.workers.process import ProcessWorker

        c.create_work_pool(
            WorkPoolCreate(name=pool, type="process", base_job_template=ProcessWorker.get_default_base_job_template())
        )
        flow_id = c.create_flow_from_name("raw-five-steps")
        deployment_id = c.create_deployment(
            flow_id, f"raw-{pool}", entrypoint=ENTRYPOINT, work_pool_name=pool, paused=False
        )
    env = {
        **stack.env,
        "PREFECT_API_URL": stack.prefect_url,
        "PYTHONPATH": str(ROOT),
        "PREFECT_WORKER_QUERY_SECONDS": "1",
        "PREFECT_WORKER_PREFETCH_SECONDS": "5",
    }
    log = open(stack.home / f"{pool}.log", "ab")
    worker = subprocess.Popen(
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
            str(n),
            "--install-policy",
            "never",
        ],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=ROOT,
        start_new_session=True,
    )
    try:
        time.sleep(5)  # let the worker start and poll before the clock starts
        started = time.time()
        with client(stack) as c:
            runs = [
                c.create_flow_run_from_deployment(
                    deployment_id,
                    parameters={"url": target_url, "payload": {"key": f"p{i}-{uuid.uuid4().hex[:6]}", "x": 5}},
                )
                for i in range(n)
            ]
            ids = [r.id for r in runs]
            peak_rss, peak_children = 0.0, 0
            while True:
                states = [
                    r.state_type.value
                    for r in c.read_flow_runs(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=ids)))
                ]
                rss = rss_mb(worker.pid)
                if rss > peak_rss:
                    peak_rss = rss
                    from bench.stack import descendants

                    peak_children = max(peak_children, len(descendants(worker.pid)))
                if (
                    all(s in ("COMPLETED", "FAILED", "CRASHED", "CANCELLED") for s in states)
                    or time.time() - started > 600
                ):
                    break
                time.sleep(0.5)
            done = c.read_flow_runs(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=ids)))
        ends = [r.end_time.timestamp() for r in done if r.end_time]
        completed = sum(r.state_type.value == "COMPLETED" for r in done)
        return {
            "n": n,
            "completed": completed,
            "seconds": max(ends) - started,
            "per_second": completed / (max(ends) - started),
            "peak_rss_mb": peak_rss,
            "peak_processes": peak_children,
        }
    finally:
        worker.terminate()
        try:
            worker.wait(30)
        except subprocess.TimeoutExpired:
            worker.kill()


async def _in_process(target_url: str, payloads: list[dict], concurrency: int) -> list[tuple[str, float, float]]:
    from bench.raw_flow import raw_five_steps

    limit = asyncio.Semaphore(concurrency)

    async def one(payload: dict) -> tuple[str | None, float, float]:
        async with limit:
            started = time.time()
            try:
                state = await raw_five_steps.with_options(flow_run_name=payload["key"])(
                    target_url, payload, return_state=True
                )
            except Exception:  # e.g. HTTP 503 from a SQLite Prefect server under load: counted as failed
                return None, started, time.time()
            return (state.state_details.flow_run_id if state.is_completed() else None), started, time.time()

    return await asyncio.gather(*(one(p) for p in payloads))


def in_process(stack, target_url: str, n: int, concurrency: int) -> dict:
    """n calls of the flow in this process, `concurrency` at a time: (flow run id, start, end) per call."""
    payloads = [{"key": f"i{i}-{uuid.uuid4().hex[:6]}", "x": 5} for i in range(n)]
    os.environ["PREFECT_API_URL"] = stack.prefect_url
    os.environ["PREFECT_API_AUTH_STRING"] = stack.auth_string
    with temporary_settings({PREFECT_API_URL: stack.prefect_url, PREFECT_API_AUTH_STRING: stack.auth_string}):
        began = time.time()
        runs = asyncio.run(_in_process(target_url, payloads, concurrency))
        # the task runs' events are still queued in this process: send them now, or Prefect records those
        # task runs only when the process exits (and the overhead row waits for them in vain)
        from prefect.events.worker import EventsWorker

        EventsWorker.drain_all(timeout=60, at_exit=False)
    seconds = max(end for _, _, end in runs) - began
    completed = [(key, run) for key, run in zip([p["key"] for p in payloads], runs, strict=True) if run[0] is not None]
    return {
        "n": n,
        "failed": n - len(completed),
        "seconds": seconds,
        "per_second": len(completed) / seconds,
        "runs": [run for _, run in completed],
        "keys": [key for key, _ in completed],
    }


def iso(ts: float) -> str:
    return datetime.fromtimestamp(ts).isoformat(timespec="milliseconds")
