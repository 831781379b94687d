"""What sealing tenant payloads at rest costs per step (issue 22), in-process, in a few seconds.

    python -m bench encryption          # its rows alone (also part of `python -m bench`)
    python -m bench.encryption --json   # the figures as JSON (what `python -m bench` reads)

Two measurements, on a fresh SQLite platform database in a throwaway FLOWYARD_HOME, with a tenant's data
key opened (as every process has it cached while it works):

- per value: a representative step output (an HTTP response of about 1 KB and 10 KB of JSON) through the
  column type of `step_results.output`, `store.sealed.EncryptedJSON`: `process_bind_param` (JSON, AES-256-GCM
  under the tenant's data key, base64) and `process_result_value` (the reverse), against plain
  `json.dumps` / `json.loads` of the same value (what the JSON column did before: the "raw" baseline);
- per step row: the worker's write of step rows (one bulk `INSERT` of 100 rows, input and output, as
  `store.batches` writes them) and reading them back through the ORM, with payload encryption on and off
  (off = what `FLOWYARD_KEYS__ENCRYPT_PAYLOADS=false` does: plain JSON; for this comparison only, never in
  production).

The measuring runs in a child process: settings and the keyring are read once per process, and the figures
must not depend on what the parent imported or configured before.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

SIZES = {"1 KB": 1024, "10 KB": 10 * 1024}
CALLS = {"1 KB": 2000, "10 KB": 500}  # per repeat, per value
REPEATS = 7
ROWS_PER_WRITE = 100  # step rows per INSERT (a batch's worth)
ROUNDS = 30  # writes (and reads) of ROWS_PER_WRITE rows, per size, with encryption on and off each


def step_output(size: int) -> dict[str, Any]:
    """An `http.request` step's output of at least `size` bytes of JSON: status, headers, a list of customers."""
    output: dict[str, Any] = {
        "status_code": 200,
        "headers": {"content-type": "application/json", "x-request-id": "5f0c9e2a-6b1d-4a8e-9c3f-1d2e3f4a5b6c"},
        "body": {"page": 1, "items": []},
    }
    i = 0
    while len(json.dumps(output)) < size:
        output["body"]["items"].append(
            {
                "id": 100000 + i,
                "email": f"customer{i}@example.com",
                "name": f"Customer number {i}",
                "phone": f"+1 555 01{i:02d}",
                "plan": "pro" if i % 3 else "free",
                "amount": round(12.5 * (i + 1), 2),
                "tags": ["lead", "newsletter"],
            }
        )
        i += 1
    return output


STEP_INPUT = {"method": "POST", "url": "https://api.example.com/customers", "json_body": {"key": "k-123"}}


def _time_calls(fn, arg, calls: int) -> float:
    """Microseconds per call of `fn(arg)`, over `calls` calls."""
    began = time.perf_counter()
    for _ in range(calls):
        fn(arg)
    return (time.perf_counter() - began) / calls * 1e6


def measure() -> dict[str, Any]:
    """The figures; expects FLOWYARD_HOME (and a master key) to be set for this process alone."""
    from sqlalchemy import insert, select

    import blocks.crypto  # noqa: F401  installs the payload keyring (store.sealed)
    from store import Execution, StepResult, Tenant, Workflow, WorkflowVersion, new_id, utcnow
    from store import sealed as sealed_module
    from store.batches import StepRecord
    from store.db import get_session_factory
    from store.migrate import upgrade
    from store.sealed import EncryptedJSON, install_keyring, installed_keyring, seal_as

    home = Path(os.environ["FLOWYARD_HOME"])
    url = f"sqlite:///{home / 'platform.db'}"
    upgrade(url)
    sessions = get_session_factory(url)
    runs = len(SIZES) * 2 * ROUNDS
    with sessions.begin() as db:
        tenant = Tenant(name="Bench encryption", slug=f"bench-{new_id()[:8]}")
        db.add(tenant)
        db.flush()
        seal_as(db, tenant.id)
        workflow = Workflow(tenant_id=tenant.id, name="bench", slug="bench", latest_version=1, published_version=1)
        db.add(workflow)
        db.flush()
        graph = {"nodes": [{"id": "start", "type": "trigger.manual", "config": {}}], "edges": []}
        db.add(WorkflowVersion(tenant_id=tenant.id, workflow_id=workflow.id, version=1, graph=graph, valid=True))
        executions = [
            Execution(
                tenant_id=tenant.id,
                workflow_id=workflow.id,
                version=1,
                mode="live",
                deployment_id=new_id(),
                status="running",
                input={"key": f"k{i}"},
            )
            for i in range(runs)
        ]
        db.add_all(executions)
        db.flush()
        tenant_id, execution_ids = tenant.id, [e.id for e in executions]

    keyring = installed_keyring()
    if not keyring.encrypt:
        raise RuntimeError("payload encryption is off in this process: the 'on' figures would be plain JSON")

    class EncryptionOff:
        """The keyring with `encrypt` false: what FLOWYARD_KEYS__ENCRYPT_PAYLOADS=false gives."""

        encrypt = False

        def __getattr__(self, name: str) -> Any:
            return getattr(keyring, name)

    column = EncryptedJSON("step_results.output")
    dialect = sessions.kw["bind"].dialect
    figures: dict[str, Any] = {"values": {}, "rows": {}}

    # per value: the tenant's current key set for sealing, as a flush of its rows sets it
    with sessions.begin() as db, sealed_module.sealing_with_key_of(db, tenant_id):
        for label, size in SIZES.items():
            value = step_output(size)
            plain = json.dumps(value)
            sealed = column.process_bind_param(value, dialect)
            if not sealed_module.is_sealed(sealed) or column.process_result_value(sealed, dialect) != value:
                raise RuntimeError("EncryptedJSON did not seal and open the value")
            calls = CALLS[label]
            timings: dict[str, list[float]] = {"seal": [], "open": [], "dumps": [], "loads": []}
            for _ in range(REPEATS):  # interleaved, so that the machine's noise falls on both alike
                timings["seal"].append(_time_calls(lambda v: column.process_bind_param(v, dialect), value, calls))
                timings["dumps"].append(_time_calls(json.dumps, value, calls))
                timings["open"].append(_time_calls(lambda s: column.process_result_value(s, dialect), sealed, calls))
                timings["loads"].append(_time_calls(json.loads, plain, calls))
            figures["values"][label] = {
                "bytes": len(plain),
                "sealed_bytes": len(sealed),
                "calls": calls,
                **{name: statistics.median(t) for name, t in timings.items()},
                **{f"{name}_min": min(t) for name, t in timings.items()},
            }

    # per step row: the worker's bulk insert of step rows, then the rows read back, encryption on and off
    ids = iter(execution_ids)
    for label, size in SIZES.items():
        output = step_output(size)
        timings = {"write on": [], "read on": [], "write off": [], "read off": []}
        for round in range(ROUNDS):
            for mode in ("on", "off") if round % 2 else ("off", "on"):  # neither always first
                execution_id = next(ids)
                now = utcnow()
                rows = [
                    StepRecord(
                        id=new_id(),
                        tenant_id=tenant_id,
                        execution_id=execution_id,
                        node_id=f"n{n}",
                        status="completed",
                        attempts=1,
                        input=STEP_INPUT,
                        output=output,
                        started_at=now,
                        ended_at=now,
                    ).row()
                    for n in range(ROWS_PER_WRITE)
                ]
                install_keyring(keyring if mode == "on" else EncryptionOff())
                try:
                    began = time.perf_counter()
                    with sessions.begin() as db:
                        db.execute(insert(StepResult), rows)
                    written = time.perf_counter()
                    with sessions() as db:
                        read = db.scalars(select(StepResult).where(StepResult.execution_id == execution_id)).all()
                    ended = time.perf_counter()
                finally:
                    install_keyring(keyring)
                if len(read) != ROWS_PER_WRITE or read[0].output != output:
                    raise RuntimeError("the step rows did not read back as written")
                timings[f"write {mode}"].append((written - began) / ROWS_PER_WRITE * 1e6)
                timings[f"read {mode}"].append((ended - written) / ROWS_PER_WRITE * 1e6)
        with sessions() as db:  # the 'on' rows are sealed in the database, the 'off' rows are not
            stored = (
                db.connection()
                .exec_driver_sql("SELECT output FROM step_results WHERE execution_id = ?", (execution_id,))
                .scalar()
            )
        if sealed_module.is_sealed(stored):
            raise RuntimeError("a step row written with encryption off was sealed")
        figures["rows"][label] = {name: statistics.median(t) for name, t in timings.items()}
    figures["rows_per_write"], figures["rounds"], figures["repeats"] = ROWS_PER_WRITE, ROUNDS, REPEATS
    figures["load"] = f"load average {os.getloadavg()[0]:.1f}"  # the machine may be shared
    return figures


def rows(figures: dict[str, Any]) -> list[tuple]:
    """Rows for the table of `python -m bench`:
    (benchmark, metric, Flowyard, raw process worker, raw in-process, note)."""
    out = []
    for label, v in figures["values"].items():
        out.append(
            (
                "encryption",
                f"encrypt / decrypt µs per value, {label} step output (EncryptedJSON)",
                f"{v['seal']:.1f} / {v['open']:.1f}",
                "-",
                f"{v['dumps']:.1f} / {v['loads']:.1f}",
                f"raw = json.dumps / json.loads of the same {v['bytes']} B value (sealed: {v['sealed_bytes']} B); "
                f"sealing adds {v['seal'] - v['dumps']:+.1f} / {v['open'] - v['loads']:+.1f} µs; "
                f"median of {figures['repeats']} x {v['calls']} calls (fastest: {v['seal_min']:.1f} / "
                f"{v['open_min']:.1f}, raw {v['dumps_min']:.1f} / {v['loads_min']:.1f}); {figures['load']}",
            )
        )
    for label, r in figures["rows"].items():
        out.append(
            (
                "encryption",
                f"write / read µs per step row, {label} output, encryption on (SQLite)",
                f"{r['write on']:.0f} / {r['read on']:.0f}",
                "-",
                f"{r['write off']:.0f} / {r['read off']:.0f}",
                f"raw = the same rows with payload encryption off (FLOWYARD_KEYS__ENCRYPT_PAYLOADS=false, "
                f"benchmark only); sealing adds {r['write on'] - r['write off']:+.0f} / "
                f"{r['read on'] - r['read off']:+.0f} µs per step (input + output); bulk INSERT of "
                f"{figures['rows_per_write']} rows, then read back through the ORM; median of {figures['rounds']}; "
                f"{figures['load']}",
            )
        )
    return out


def child_env(home: Path) -> dict[str, str]:
    """The environment of the measuring process: its own home and master key, encryption on, no other
    Flowyard settings from the caller (a production setting or a database URL would change what is measured)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLOWYARD_")}
    env.update(
        FLOWYARD_HOME=str(home),
        FLOWYARD_MASTER_KEY=base64.b64encode(os.urandom(32)).decode(),
        FLOWYARD_KEYS__ENCRYPT_PAYLOADS="true",
    )
    return env


def run() -> list[tuple]:
    """Measure in a child process; the table's rows."""
    with tempfile.TemporaryDirectory(prefix="flowyard-bench-encryption-") as home:
        done = subprocess.run(
            [sys.executable, "-m", "bench.encryption", "--json"],
            env=child_env(Path(home)),
            cwd=Path(__file__).resolve().parent.parent,
            capture_output=True,
            text=True,
            timeout=300,
        )
    if done.returncode != 0:
        raise RuntimeError(f"bench.encryption failed: {done.stderr[-1500:]}")
    return rows(json.loads(done.stdout.strip().splitlines()[-1]))


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.encryption", description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="measure in this process and print the figures")
    args = parser.parse_args()
    if args.json:
        print(json.dumps(measure()))
        return 0
    from bench.__main__ import table

    began = time.time()
    print(table([("in-process", *row) for row in run()]))
    print(f"\nmeasured in {time.time() - began:.0f} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
