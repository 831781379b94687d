"""Per-step overhead of an integration step, next to a bare Prefect task doing the same HTTP call.

Both run as Prefect task runs in one flow, on a temporary Prefect server, against the local SendGrid
fake (tests/fakes). For each step we take the time from the task's first line to the fake receiving
the request (both clocks are this process's perf_counter):

  bare task         httpx POST /v3/mail/send with the API key in hand
  email.sendgrid    the node as the interpreter runs it: config model, tenant check of the connection in
                    the platform database, the block from Prefect (cached after the first load), the
                    tenant's data key and AES-GCM unsealing, the Prefect rate-limit slot, the idempotency
                    ledger row, and the sendgrid SDK's request

and the same node with the tenant's rate limit switched off, to show what the Prefect rate-limit slot
(one more call to the Prefect server, which on SQLite waits for its single writer) costs.

    python -m bench.integration_step [--steps 40]
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx


def _figures(label: str, values: list[float]) -> str:
    ms = sorted(v * 1000 for v in values)
    p95 = ms[min(len(ms) - 1, int(len(ms) * 0.95))]
    return f"{label:<44} {statistics.median(ms):8.1f} {p95:8.1f} {statistics.mean(ms):8.1f} {ms[0]:8.1f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=40, help="task runs of each kind")
    parser.add_argument(
        "--prefect-database-url",
        help="run the Prefect server on this database (e.g. "
        "postgresql+asyncpg://postgres@127.0.0.1:5432/bench) instead of a temporary SQLite one",
    )
    args = parser.parse_args()
    home = Path(tempfile.mkdtemp(prefix="flowyard-bench-"))

    from tests.fakes.sendgrid import FakeSendGrid

    fake = FakeSendGrid().start()
    os.environ.update(
        {
            "FLOWYARD_HOME": str(home),
            "FLOWYARD_DATABASE_URL": f"sqlite:///{home / 'platform.db'}",
            "FLOWYARD_INTEGRATIONS__SENDGRID_BASE_URL": fake.url,
            "FLOWYARD_INTEGRATIONS__RATE_LIMITS": '{"sendgrid": 1000}',  # a slot is taken, but never waited for
            "PREFECT_HOME": str(home / "prefect"),
            "DO_NOT_TRACK": "1",
            "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
            "PREFECT_LOGGING_LEVEL": "WARNING",
        }
    )
    print(f"starting a Prefect server (state in {home}) ...", flush=True)
    if args.prefect_database_url:
        with _prefect_server(home, args.prefect_database_url):
            kinds = asyncio.run(_measure(fake, args.steps))
    else:
        from prefect.testing.utilities import prefect_test_harness

        with prefect_test_harness(server_startup_timeout=120):
            kinds = asyncio.run(_measure(fake, args.steps))
    fake.stop()
    print(f"Prefect server database: {'PostgreSQL' if args.prefect_database_url else 'SQLite'}")
    print(f"\n{args.steps} task runs each; ms from task start to the fake receiving the request")
    print(f"{'':<44} {'p50':>8} {'p95':>8} {'mean':>8} {'min':>8}")
    for label, values in kinds.items():
        print(_figures(label, values))
    bare = statistics.median(kinds["bare Prefect task (httpx)"])
    node = statistics.median(kinds["email.sendgrid step (warm)"])
    unlimited = statistics.median(kinds["email.sendgrid step, no rate limit"])
    print(f"\noverhead of an integration step over a bare task (p50): {(node - bare) * 1000:.1f} ms")
    print(f"  of which the Prefect rate-limit slot (p50):             {(node - unlimited) * 1000:.1f} ms")
    print(
        f"first step of a process (block loaded from Prefect):      {kinds['email.sendgrid step (first)'][0] * 1000:.1f} ms"
    )


@contextmanager
def _prefect_server(home: Path, database_url: str) -> Iterator[None]:
    from tests.support import free_port

    port = free_port()
    env = {**os.environ, "PREFECT_SERVER_DATABASE_CONNECTION_URL": database_url}
    log = open(home / "prefect-server.log", "ab")
    server = subprocess.Popen(
        [sys.executable, "-m", "prefect", "server", "start", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    os.environ["PREFECT_API_URL"] = f"http://127.0.0.1:{port}/api"
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/api/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.5)
        yield
    finally:
        server.send_signal(signal.SIGINT)
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)


async def _measure(fake, steps: int) -> dict[str, list[float]]:
    from prefect import flow, task
    from prefect.cache_policies import NO_CACHE
    from prefect.settings import PREFECT_API_URL
    from pydantic import SecretStr

    from blocks.connections import block_name, save_block
    from blocks.crypto import tenant_cipher
    from blocks.sendgrid import SendGridConnection
    from core.settings import get_settings
    from flow_factory.nodes import NODE_TYPES
    from flow_factory.nodes.base import StepContext
    from store import Connection, Tenant
    from store.db import get_session_factory
    from store.migrate import upgrade

    os.environ["FLOWYARD_PREFECT__API_URL"] = PREFECT_API_URL.value()  # the temporary server
    get_settings.cache_clear()
    settings = get_settings()
    upgrade(settings.platform_database_url)
    key = fake.add_key()
    sessions = get_session_factory(settings.platform_database_url)
    with sessions() as db:
        tenant = Tenant(name="Bench", slug="bench")
        db.add(tenant)
        db.commit()
        cipher = tenant_cipher(db, tenant.id, master_key=settings.master_key.get_secret_value())
        name = block_name(tenant.slug, "sendgrid", "bench")
        block = SendGridConnection(
            api_key=SecretStr(cipher.seal(key, context=f"{name}:api_key")), from_email="b@example.com"
        )
        await asyncio.to_thread(save_block, settings, block, name)
        connection = Connection(
            tenant_id=tenant.id,
            type="sendgrid",
            name="bench",
            block_name=name,
            config={},
            secrets_set={"api_key": True},
        )
        db.add(connection)
        db.commit()
        tenant_id, connection_id = tenant.id, connection.id

    node_type = NODE_TYPES["email.sendgrid"]
    logger = logging.getLogger("bench")

    def arrival(marker: str) -> float:
        [request] = fake.received(lambda r: marker in r.text())
        return request.at

    @task(cache_policy=NO_CACHE, persist_result=False)
    async def integration_step(i: int) -> float:
        started = time.perf_counter()
        to = f"step-{i}-{uuid.uuid4().hex[:6]}@example.com"
        ctx = StepContext(str(uuid.uuid4()), tenant_id, "mail", "live", logger)
        config = node_type.parse_config({"connection": connection_id, "to": to, "subject": "Hi", "text": "Hello"})
        await node_type.run(config, ctx)
        return arrival(to) - started

    @task(cache_policy=NO_CACHE, persist_result=False)
    async def integration_batch(n: int) -> list[float]:
        """One task run over n executions at once, as the interpreter runs a node over a batch."""
        started = time.perf_counter()
        tos = [f"batch-{i}-{uuid.uuid4().hex[:6]}@example.com" for i in range(n)]

        async def one(to: str) -> None:
            ctx = StepContext(str(uuid.uuid4()), tenant_id, "mail", "live", logger)
            config = node_type.parse_config({"connection": connection_id, "to": to, "subject": "Hi", "text": "Hello"})
            await node_type.run(config, ctx)

        await asyncio.gather(*(one(to) for to in tos))
        return [arrival(to) - started for to in tos]

    client = httpx.AsyncClient()  # shared, as a well-written task would (a new one costs an SSL context)

    @task(cache_policy=NO_CACHE, persist_result=False)
    async def bare_task(i: int) -> float:
        started = time.perf_counter()
        to = f"bare-{i}-{uuid.uuid4().hex[:6]}@example.com"
        body = {
            "personalizations": [{"to": [{"email": to}]}],
            "from": {"email": "b@example.com"},
            "subject": "Hi",
            "content": [{"type": "text/plain", "value": "Hello"}],
        }
        response = await client.post(
            f"{fake.url}/v3/mail/send",
            json=body,
            headers={"Authorization": f"Bearer {key}", "Accept": "application/json"},
        )
        response.raise_for_status()
        return arrival(to) - started

    @flow(name="bench-integration-step", persist_result=False)
    async def bench() -> dict[str, list[float]]:
        first = [await integration_step(-1)]
        await bare_task(-1)  # warm-up: imports, connection pools
        bare = [await bare_task(i) for i in range(steps)]
        warm = [await integration_step(i) for i in range(steps)]
        batch = await integration_batch(steps)
        os.environ["FLOWYARD_INTEGRATIONS__RATE_LIMITS"] = '{"sendgrid": 0}'  # the same without the rate limit
        get_settings.cache_clear()
        unlimited = [await integration_step(steps + i) for i in range(steps)]
        return {
            "bare Prefect task (httpx)": bare,
            "email.sendgrid step (warm)": warm,
            f"email.sendgrid, {steps} executions in one task run": batch,
            "email.sendgrid step, no rate limit": unlimited,
            "email.sendgrid step (first)": first,
        }

    return await bench()


if __name__ == "__main__":
    main()
