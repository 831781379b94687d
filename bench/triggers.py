"""Triggers: webhook request -> 202 latency and CRM change -> run delay, next to raw Prefect.

Both against raw Prefect on the same Prefect server in the same run, on SQLite and PostgreSQL.

    python -m bench triggers [--backend sqlite|postgres|both]
    python -m bench.triggers [--backend ...] [--deliveries 300] [--changes 30] ...

1. Webhook ingest. A published `trigger.webhook` (HMAC) -> `util.log` workflow; N signed deliveries
   (`X-Flowyard-Signature`, a unique `X-Delivery-Id` each) from a few concurrent clients at a fixed
   offered rate; request -> `202` p50/p95/p99 and the accepted rate. Raw Prefect: what accepting a
   trigger is there, `create_flow_run_from_deployment` (the one write `run_deployment(timeout=0)` makes
   after reading the deployment) on a deployment of a process work pool, same clients, same rate.
2. CRM change -> run. A published `trigger.data_change` workflow (deal stage becomes `won`) -> `util.log`;
   N deals moved to `won` through `PATCH /api/v1/crm/deals/{id}`, one every 1/rate s; per change, the
   delay from the PATCH's response to the execution's `started_at` and `ended_at` (and, in between, to
   its batch's Prefect flow run being created). Raw Prefect: a deployment with a `DeploymentEventTrigger`
   (an automation with a `run-deployment` action, as `prefect deploy` creates it) on a custom event,
   `prefect.events.emit_event(...)` -> the automation creates the flow run -> Prefect's process worker
   (polling as often as the Flowyard worker) runs it; delay from `emit_event` returning to the flow run's
   `created`, `start_time` (Running) and `end_time`.

One warm-up delivery / change / event runs first on each side and is not counted. Each side's load ends
(all its runs finished) before the other side's starts.
"""

from __future__ import annotations

# The raw process worker imports this module to run `raw_deal_won`: keep the top-level imports light.
import argparse
import json
import os
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

from prefect import flow

# deliveries / rate: webhook load; changes / change_rate: CRM changes; raw_events / raw_event_every: the raw
# event-trigger leg, whose process worker starts one Python process per flow run (2-5 s of CPU each), so it
# gets fewer events, spaced so that it keeps up.
SIZES = {
    "sqlite": dict(deliveries=300, rate=20.0, changes=24, change_rate=2.0, raw_events=6, raw_event_every=3.0),
    "postgres": dict(deliveries=300, rate=20.0, changes=24, change_rate=2.0, raw_events=6, raw_event_every=3.0),
}
CLIENTS = 4
GRACE_SECONDS = 10.0  # how long past its schedule a paced load may run before the rest is left unsent
WORKER_POLL_SECONDS = "0.5"  # the Flowyard worker's default poll (settings.worker.poll_seconds)
EVENT = "bench.deal.won"


@flow(name="raw-deal-won", persist_result=False)
def raw_deal_won(key: str) -> str:
    """Raw Prefect's run for a won deal: the flow body does nothing, as `util.log` does next to nothing."""
    return f"won {key}"


def _epoch(value: datetime | None) -> float | None:
    if value is None:
        return None
    return value.replace(tzinfo=value.tzinfo or UTC).timestamp()


def paced(
    n: int,
    rate: float,
    clients: int,
    open_client: Callable[[], Any],
    send: Callable[[Any, int], bool],
    grace: float = GRACE_SECONDS,
) -> dict:
    """Request k (0..n-1) is due at start + k/rate and sent by client k % clients, which waits for each answer
    before its next request; nothing is sent later than `grace` s after the schedule's end (a side that cannot
    keep up does not stretch the run). Returns per-request latencies (s), how many succeeded, how many were
    never sent, and how far the clients fell behind the schedule."""
    start = time.monotonic() + 0.2
    stop = start + n / rate + grace
    results: list[tuple[float, float, bool]] = []  # (sent at, latency, ok)
    lock = threading.Lock()
    lag = [0.0]

    def loop(i: int) -> None:
        with open_client() as client:
            for k in range(i, n, clients):
                due = start + k / rate
                now = time.monotonic()
                if now > stop:
                    break
                if due > now:
                    time.sleep(due - now)
                else:
                    with lock:
                        lag[0] = max(lag[0], now - due)
                sent = time.perf_counter()
                try:
                    ok = send(client, k)
                except Exception:
                    ok = False
                latency = time.perf_counter() - sent
                with lock:
                    results.append((sent, latency, ok))

    with ThreadPoolExecutor(clients) as pool:
        list(pool.map(loop, range(clients)))
    first = min(r[0] for r in results)
    last = max(r[0] + r[1] for r in results)
    ok = [r for r in results if r[2]]
    return {
        "latencies": [r[1] for r in ok],
        "ok": len(ok),
        "failed": len(results) - len(ok),
        "unsent": n - len(results),
        "per_second": len(ok) / (last - first),
        "lag": lag[0],
    }


# --- webhooks ---------------------------------------------------------------------------------------


def webhook_ingest(stack, size: dict) -> list[tuple]:
    import httpx

    from bench import raw
    from bench.benchmarks import lat
    from bench.flowyard_runs import Platform, chain, node
    from platform_api.triggers.signatures import sign

    n, rate = size["deliveries"], size["rate"]
    platform = Platform(stack)
    graph = chain(
        node("hook", "trigger.webhook", {"auth": "hmac", "rate_limit_per_minute": 60_000}),
        node("log", "util.log", {"message": "lead {{ trigger.body.email }}"}),
    )
    created = platform.http.post("/api/v1/workflows", json={"name": "bench webhook", "graph": graph})
    created.raise_for_status()
    workflow_id = created.json()["id"]
    published = platform.http.post(f"/api/v1/workflows/{workflow_id}/publish")
    published.raise_for_status()
    secret = published.json()["webhook_secret"]
    url = platform.http.get(f"/api/v1/workflows/{workflow_id}/webhook").json()["url"]
    run = uuid.uuid4().hex[:6]

    def deliver(client: httpx.Client, k: int) -> bool:
        body = json.dumps({"email": f"lead{k}@example.com", "n": k}).encode()
        headers = {
            "content-type": "application/json",
            "X-Flowyard-Signature": sign(secret, body),
            "X-Delivery-Id": f"{run}-{k}",
        }
        return client.post(url, content=body, headers=headers).status_code == 202

    with httpx.Client(timeout=60) as client:  # warm-up: not counted
        assert deliver(client, -1), "the warm-up delivery was not accepted"
    flowyard = paced(n, rate, CLIENTS, lambda: httpx.Client(timeout=60), deliver)
    platform.wait_for(workflow_id, ("completed", "failed"), flowyard["ok"] + 1, timeout=300)  # quiet again

    from prefect.client.schemas.actions import WorkPoolCreate
    from prefect.states import Scheduled
    from prefect.workers.process import ProcessWorker

    # A process pool no worker polls. The flow runs are scheduled an hour ahead (the same create call, the same
    # Scheduled state) and deleted with their deployment afterwards: left due and unclaimed, Prefect's late-runs
    # service would mark hundreds of them Late every few seconds, which on SQLite fights over the one write lock
    # ("database is locked") and slows everything measured after it.
    pool = f"raw-hooks-{run}"
    with raw.client(stack) as c:
        c.create_work_pool(
            WorkPoolCreate(name=pool, type="process", base_job_template=ProcessWorker.get_default_base_job_template())
        )
        flow_id = c.create_flow_from_name("raw-webhook")
        deployment_id = c.create_deployment(
            flow_id, f"raw-{pool}", entrypoint="bench.triggers.raw_deal_won", work_pool_name=pool, paused=False
        )

    def create_run(c, k: int) -> bool:
        c.create_flow_run_from_deployment(
            deployment_id,
            parameters={"key": f"{run}-{k}"},
            idempotency_key=f"hook-{run}-{k}",
            state=Scheduled(scheduled_time=datetime.now(UTC) + timedelta(hours=1)),
        )
        return True

    with raw.client(stack) as c:
        create_run(c, -1)
    prefect = paced(n, rate, CLIENTS, lambda: raw.client(stack), create_run)
    with raw.client(stack) as c:
        c.delete_deployment(deployment_id)  # and with it its scheduled flow runs
        c.delete_work_pool(pool)

    def failures(result: dict) -> str:
        return (f", {result['failed']} failed" if result["failed"] else "") + (
            f", {result['unsent']} not sent (more than {GRACE_SECONDS:g} s behind schedule)" if result["unsent"] else ""
        )

    def behind(result: dict) -> str:
        return f", clients up to {result['lag']:.1f} s behind schedule" if result["lag"] > 0.5 else ""

    offered = f"{n} deliveries at {rate:g}/s offered, {CLIENTS} clients"
    return [
        (
            "webhook",
            f"request->202 p50/p95/p99 ms, {offered}",
            lat(flowyard["latencies"], 1000),
            "-",
            lat(prefect["latencies"], 1000),
            "HMAC-signed, one X-Delivery-Id each; raw = Prefect API "
            "create_flow_run_from_deployment (process work pool), same clients, same schedule",
        ),
        (
            "webhook",
            "accepted deliveries/s (raw: flow runs created/s)",
            f"{flowyard['per_second']:.1f}",
            "-",
            f"{prefect['per_second']:.1f}",
            f"Flowyard {flowyard['ok']} accepted{failures(flowyard)}{behind(flowyard)}; "
            f"raw {prefect['ok']} created{failures(prefect)}{behind(prefect)}",
        ),
    ]


# --- CRM changes --------------------------------------------------------------------------------------


def _paced_calls(n: int, rate: float, call: Callable[[int], float | None]) -> dict[int, float]:
    """Open-loop: call(k) every 1/rate s whatever the answers take; k -> the time call(k) returned."""
    done: dict[int, float] = {}
    lock = threading.Lock()
    start = time.monotonic()
    with ThreadPoolExecutor(16) as pool:
        for k in range(n):
            time.sleep(max(0.0, start + k / rate - time.monotonic()))

            def fire(k=k) -> None:
                at = call(k)
                if at is not None:
                    with lock:
                        done[k] = at

            pool.submit(fire)
    return done


def crm_to_run(stack, size: dict) -> dict:
    """Flowyard: deals moved to won -> their executions' queued / flow run created / started / ended times."""
    from sqlalchemy import select

    from bench.flowyard_runs import Platform, chain, node
    from store import Batch, Execution

    n, rate = size["changes"], size["change_rate"]
    platform = Platform(stack)
    workflow_id = platform.publish(
        chain(
            node(
                "won",
                "trigger.data_change",
                {"record_type": "deal", "event": "field_changed", "field": "stage", "to": "won"},
            ),
            node("log", "util.log", {"message": "{{ trigger.record.title }} won"}),
        )
    )
    deals = []
    for i in range(n + 1):
        response = platform.http.post(
            "/api/v1/crm/deals", json={"title": f"Deal {i}", "amount": 1000, "stage": "negotiation"}
        )
        response.raise_for_status()
        deals.append(response.json()["id"])

    def win(k: int) -> float | None:
        response = platform.http.patch(f"/api/v1/crm/deals/{deals[k]}", json={"stage": "won"})
        return time.time() if response.status_code == 200 else None

    assert win(0) is not None  # warm-up: not counted
    platform.wait_for(workflow_id, ("completed", "failed"), 1, timeout=120)
    answered = {deals[k + 1]: at for k, at in _paced_calls(n, rate, lambda k: win(k + 1)).items()}
    platform.wait_for(workflow_id, ("completed", "failed"), len(answered) + 1, timeout=300)
    with platform.sessions() as db:
        rows = db.execute(
            select(
                Execution.input,
                Execution.status,
                Execution.created_at,
                Batch.created_at,
                Batch.submitted_at,
                Execution.started_at,
                Execution.ended_at,
                Batch.flow_run_id,
            )
            .join(Batch, Batch.id == Execution.batch_id, isouter=True)
            .where(Execution.workflow_id == workflow_id)
        ).all()
    running = _running_at(stack, [row[-1] for row in rows if row[-1]])
    delays: dict[str, list[float]] = {
        "queued": [],
        "claimed": [],
        "flow run": [],
        "running": [],
        "started": [],
        "ended": [],
    }
    statuses, flow_runs, runs_per_deal = {}, set(), {}
    for input, status, created_at, claimed_at, submitted_at, started_at, ended_at, flow_run_id in rows:
        deal = input["record_id"]
        runs_per_deal[deal] = runs_per_deal.get(deal, 0) + 1
        if deal not in answered:
            continue
        statuses[status] = statuses.get(status, 0) + 1
        flow_runs.add(flow_run_id)
        for name, at in (
            ("queued", _epoch(created_at)),
            ("claimed", _epoch(claimed_at)),
            ("flow run", _epoch(submitted_at)),
            ("running", running.get(flow_run_id)),
            ("started", _epoch(started_at)),
            ("ended", _epoch(ended_at)),
        ):
            if at is not None:
                delays[name].append(at - answered[deal])
    return {
        "n": n,
        "rate": rate,
        "answered": len(answered),
        "delays": delays,
        "statuses": statuses,
        "flow_runs": len(flow_runs),
        "duplicates": sum(c > 1 for c in runs_per_deal.values()),
    }


def _running_at(stack, flow_run_ids: list[str]) -> dict[str, float]:
    """flow run id -> when Prefect saw it Running (its start_time)."""
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

    from bench import raw

    ids = sorted({uuid.UUID(f) for f in flow_run_ids})
    with raw.client(stack) as c:
        runs = c.read_flow_runs(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=ids)), limit=200) if ids else []
    return {str(r.id): r.start_time.timestamp() for r in runs if r.start_time}


def event_to_run(stack, size: dict) -> dict:
    """Raw Prefect: emit_event -> DeploymentEventTrigger's automation -> flow run -> process worker."""
    from prefect.client.schemas.actions import WorkPoolCreate
    from prefect.client.schemas.filters import DeploymentFilter, DeploymentFilterId
    from prefect.events import DeploymentEventTrigger, emit_event
    from prefect.events.clients import PrefectEventsClient
    from prefect.events.worker import EventsWorker
    from prefect.settings import PREFECT_API_AUTH_STRING, PREFECT_API_URL, temporary_settings
    from prefect.workers.process import ProcessWorker

    from bench import raw
    from bench.stack import ROOT

    n, every = size["raw_events"], size["raw_event_every"]
    run = uuid.uuid4().hex[:6]
    pool = f"raw-events-{run}"
    with raw.client(stack) as c:
        c.create_work_pool(
            WorkPoolCreate(name=pool, type="process", base_job_template=ProcessWorker.get_default_base_job_template())
        )
        flow_id = c.create_flow_from_name("raw-deal-won")
        deployment_id = c.create_deployment(
            flow_id, f"raw-{pool}", entrypoint="bench.triggers.raw_deal_won", work_pool_name=pool, paused=False
        )
        trigger = DeploymentEventTrigger(
            name=f"raw deal won {run}",
            expect={EVENT},
            match={"prefect.resource.id": f"bench.deal.{run}.*"},
            for_each={"prefect.resource.id"},
            parameters={"key": "{{ event.payload.key }}"},
        )
        trigger.set_deployment_id(deployment_id)  # what `prefect deploy` does with a deployment's triggers
        automation_id = c.create_automation(trigger.as_automation())

    env = {
        **stack.env,
        "PREFECT_API_URL": stack.prefect_url,
        "PYTHONPATH": str(ROOT),
        "PREFECT_WORKER_QUERY_SECONDS": WORKER_POLL_SECONDS,
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
            "--install-policy",
            "never",
        ],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=ROOT,
        start_new_session=True,
    )
    os.environ["PREFECT_API_URL"] = stack.prefect_url
    os.environ["PREFECT_API_AUTH_STRING"] = stack.auth_string
    EventsWorker.set_client_override(PrefectEventsClient, api_url=stack.prefect_url)
    emitted: dict[str, float] = {}
    try:
        with temporary_settings({PREFECT_API_URL: stack.prefect_url, PREFECT_API_AUTH_STRING: stack.auth_string}):

            def emit(key: str) -> float:
                emit_event(EVENT, resource={"prefect.resource.id": f"bench.deal.{run}.{key}"}, payload={"key": key})
                return time.time()

            def flow_runs() -> list:
                with raw.client(stack) as c:
                    return c.read_flow_runs(
                        deployment_filter=DeploymentFilter(id=DeploymentFilterId(any_=[deployment_id])), limit=200
                    )

            def wait_final(count: int, timeout: float) -> list:
                deadline = time.monotonic() + timeout
                while True:
                    runs = flow_runs()
                    final = [
                        r
                        for r in runs
                        if r.state_type and r.state_type.value in ("COMPLETED", "FAILED", "CRASHED", "CANCELLED")
                    ]
                    if len(final) >= count or time.monotonic() > deadline:
                        return runs
                    time.sleep(0.5)

            emit("warm-up")  # also waits for the worker to be up: not counted
            if not wait_final(1, 120):
                raise RuntimeError("the warm-up event started no flow run: is the automation loaded?")
            start = time.monotonic()
            for k in range(n):
                time.sleep(max(0.0, start + k * every - time.monotonic()))
                emitted[f"e{k}"] = emit(f"e{k}")
            runs = wait_final(n + 1, 180)
            EventsWorker.drain_all(timeout=10)
    finally:
        EventsWorker.set_client_override(None)
        worker.terminate()
        try:
            worker.wait(30)
        except subprocess.TimeoutExpired:
            worker.kill()
        try:
            with raw.client(stack) as c:
                c.delete_automation(automation_id)
        except Exception:
            pass
    delays: dict[str, list[float]] = {"flow run": [], "started": [], "ended": []}
    states: dict[str, int] = {}
    for r in runs:
        key = (r.parameters or {}).get("key")
        if key not in emitted:
            continue
        states[r.state_type.value] = states.get(r.state_type.value, 0) + 1
        for name, at in (("flow run", r.created), ("started", r.start_time), ("ended", r.end_time)):
            if at is not None:
                delays[name].append(at.timestamp() - emitted[key])
    return {
        "n": n,
        "every": every,
        "delays": delays,
        "states": states,
        "runs": sum(1 for r in runs if (r.parameters or {}).get("key") in emitted),
    }


def data_change(stack, size: dict) -> list[tuple]:
    from bench.benchmarks import lat, pct

    flowyard = crm_to_run(stack, size)
    prefect = event_to_run(stack, size)
    fy, pr = flowyard["delays"], prefect["delays"]
    offered = (
        f"{flowyard['answered']} deals to won at {flowyard['rate']:g}/s "
        f"(raw: {prefect['n']} events, one per {prefect['every']:g} s)"
    )
    statuses = ", ".join(f"{v} {k}" for k, v in sorted(flowyard["statuses"].items()))
    states = ", ".join(f"{v} {k.lower()}" for k, v in sorted(prefect["states"].items()))
    lost = prefect["n"] - prefect["runs"]
    return [
        (
            "data change",
            f"CRM change->run started p50/p95/p99 s, {offered}",
            lat(fy["started"]),
            lat(pr["started"]),
            "-",
            f"from the PATCH's response (raw: emit_event returning) to the execution's started_at (raw: flow run "
            f"Running, process worker polling every {WORKER_POLL_SECONDS} s); Flowyard p50 s: "
            + ", ".join(
                f"{label} {pct(fy[name], 50):.2f}"
                for name, label in (
                    ("queued", "execution queued"),
                    ("claimed", "batched"),
                    ("flow run", "flow run created"),
                    ("running", "flow run Running"),
                    ("started", "execution started"),
                )
            )
            + f"; {flowyard['flow_runs']} flow runs",
        ),
        (
            "data change",
            "CRM change->Prefect flow run created p50/p95/p99 s",
            lat(fy["flow run"]),
            lat(pr["flow run"]),
            "-",
            "Flowyard: outbox -> dispatcher -> batch's flow run; raw: event -> "
            "automation -> run-deployment action" + (f"; {lost} events started no flow run" if lost else ""),
        ),
        (
            "data change",
            "CRM change->run completed p50/p95/p99 s",
            lat(fy["ended"]),
            lat(pr["ended"]),
            "-",
            f"{statuses}; raw: {states}"
            + (f"; {flowyard['duplicates']} deals ran twice" if flowyard["duplicates"] else ""),
        ),
    ]


# --- main --------------------------------------------------------------------------------------------


def run_backend(backend: str, size: dict, parts: list[str]) -> list[tuple]:
    from bench.stack import Stack

    rows: list[tuple] = []
    began = time.time()
    stack = Stack(backend).start()
    print(f"[{backend}] stack up in {time.time() - began:.0f} s", file=sys.stderr, flush=True)
    try:
        for name, part in (("webhook", webhook_ingest), ("data change", data_change)):
            if name not in parts:
                continue
            began = time.time()
            try:
                new = part(stack, size)
            except Exception as exc:
                import traceback

                traceback.print_exc()
                new = [(name, "FAILED", "-", "-", "-", f"{type(exc).__name__}: {exc}"[:160])]
            rows.extend((backend, *row) for row in new)
            print(
                f"[{backend}] {name} done in {time.time() - began:.0f} s, load average {os.getloadavg()[0]:.1f}",
                file=sys.stderr,
                flush=True,
            )
    finally:
        stack.stop()
    return rows


def main(argv: list[str] | None = None) -> int:
    from bench.__main__ import table
    from bench.stack import postgres_available

    parser = argparse.ArgumentParser(prog="python -m bench.triggers", description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=("sqlite", "postgres", "both"), default="both")
    parser.add_argument("--only", choices=("webhook", "crm"), help="run one of the two parts")
    for name in ("deliveries", "rate", "changes", "change_rate", "raw_events", "raw_event_every"):
        parser.add_argument(f"--{name.replace('_', '-')}", type=float, help=f"override SIZES[...]['{name}']")
    args = parser.parse_args(argv)
    backends = ["sqlite", "postgres"] if args.backend == "both" else [args.backend]
    parts = {"webhook": ["webhook"], "crm": ["data change"], None: ["webhook", "data change"]}[args.only]
    rows: list[tuple] = []
    began, load = time.time(), os.getloadavg()
    for backend in backends:
        if backend == "postgres" and not postgres_available():
            rows.append((backend, "-", "skipped: PostgreSQL does not answer", "-", "-", "-", ""))
            continue
        size = dict(SIZES[backend])
        for name in size:
            if getattr(args, name) is not None:
                size[name] = type(size[name])(getattr(args, name))
        rows.extend(run_backend(backend, size, parts))
    print(table(rows))
    end = os.getloadavg()
    print(
        f"\n{len(rows)} figures in {time.time() - began:.0f} s; load average (1/5/15 min) "
        f"{load[0]:.1f}/{load[1]:.1f}/{load[2]:.1f} at the start, {end[0]:.1f}/{end[1]:.1f}/{end[2]:.1f} at the end",
        flush=True,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
