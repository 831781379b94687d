"""The Flowyard worker: one long-lived asyncio process that runs many `graph-interpreter` flow runs at once.

Prefect's process worker starts a Python subprocess per flow run (seconds of CPU and ~100 MB each).
This worker is a `BaseWorker` of its own type ("flowyard") that runs each flow run in-process with
`prefect.flow_engine.run_flow_async`, up to `limit` at once:

- Polling: every `poll_seconds` (2 s by default) it reads scheduled flow runs of its pool and
  proposes `Pending` for each before running it, so two workers never run the same flow run. The
  dispatcher wakes it as soon as it has created flow runs (`engine.wakeup`), so a new batch
  starts within tens of milliseconds, and it polls again as soon as a slot frees up after a poll that
  found more flow runs than free slots; the regular poll is the fallback.
- Flows: a flow run of the pool runs the flow its deployment names: the interpreter, the hourly
  `flowyard-maintenance` flow (`engine.maintenance`, retention), or `flowyard-reencrypt` (`engine.reencrypt`,
  a workspace's data sealed again after a key rotation).
- Start-up: no suspension observer per flow run (see `_no_suspension_observer`).
- Cancellation: every `CANCEL_POLL_SECONDS` it asks Prefect which of its flow runs are
  `Cancelling` (cancelled from the UI or API). A running one has its asyncio task cancelled and
  the engine takes it through Cancelling -> Cancelled with the flow's `on_cancellation` hooks;
  one not started yet is set `Cancelled` directly.
- Drain: on SIGTERM or SIGINT it stops taking flow runs, keeps heartbeating and lets the running
  ones finish; after `drain_seconds` it stops what is left, which the engine reports `Crashed`.
- Crash detection: it heartbeats every `heartbeat_seconds` and labels each flow run with its name;
  when it dies, `engine.reconcile.crash_runs_of_dead_workers` (run by the dispatcher) marks its
  flow runs `Crashed` and the dispatcher's reconciliation ends their executions.

The asyncio loop runs in a thread of its own: Prefect's flow engine installs a SIGTERM handler for
each run when it runs in the main thread, which would interrupt the worker rather than a run.

Run it with `python -m engine.worker` (settings from `FLOWYARD_WORKER__...`).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import contextvars
import logging
import math
import os
import signal
import socket
import sys
import threading
import time
import uuid
from collections.abc import Callable, Coroutine, Iterator
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, Any

import anyio
from prefect import Flow, flow_engine
from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId, FlowRunFilterState, FlowRunFilterStateType
from prefect.client.schemas.objects import FlowRun, StateType
from prefect.context import AsyncClientContext, SyncClientContext
from prefect.exceptions import Abort, ObjectNotFound, TerminationSignal
from prefect.flow_engine import run_flow_async
from prefect.settings import (
    PREFECT_LOGGING_TO_API_BATCH_INTERVAL,
    PREFECT_WORKER_PREFETCH_SECONDS,
    temporary_settings,
)
from prefect.states import Cancelled, Crashed
from prefect.utilities.engine import propose_state
from prefect.utilities.services import critical_service_loop
from prefect.workers.base import BaseJobConfiguration, BaseVariables, BaseWorker, BaseWorkerResult

from core import prefect_client as prefect_retries
from core.prefect_client import api_settings
from core.settings import get_settings
from engine import wakeup
from engine.maintenance import MAINTENANCE_FLOW, flowyard_maintenance
from engine.reencrypt import REENCRYPT_FLOW, flowyard_reencrypt
from flow_factory.interpreter import graph_interpreter

if TYPE_CHECKING:
    from prefect._flow_run_suspension import FlowRunSuspensionRequest
    from prefect._internal.control_listener import Intent
    from prefect.client.schemas.responses import WorkerFlowRunResponse

WORKER_TYPE = "flowyard"
CANCEL_POLL_SECONDS = 1.0
HEARTBEAT_PATIENCE_SECONDS = 300.0  # a Prefect outage the heartbeat rides out at its own pace
LOG_BATCH_SECONDS = 0.25  # run logs reach Prefect soon after the step that wrote them (Prefect's default: 2 s)
STOP_CHECK_SECONDS = 0.2
CRASH_REPORT_PAUSES = (1, 2, 4, 8, 15, 30, 30, 30, 30, 30, 60, 60, 60)  # about 6 minutes of trying
log = logging.getLogger("flowyard.worker")


# --- cancellation of one in-process flow run ----------------------------------------------------
# Prefect's engine turns an asyncio cancellation of a flow run into `Crashed`, unless the process's
# termination intent is "cancel" (set by Prefect's runner for a whole process). Here many runs share
# a process, so the intent is answered per run, from a context variable of the run's task.


@dataclass
class RunControl:
    cancelling: bool = False


_run_control: contextvars.ContextVar[RunControl | None] = contextvars.ContextVar("flowyard_run_control", default=None)
_prefect_intent = flow_engine._termination_intent


def _termination_intent() -> Intent | None:
    control = _run_control.get()
    return "cancel" if control is not None and control.cancelling else _prefect_intent()


flow_engine._termination_intent = _termination_intent


# --- no suspension observer ---------------------------------------------------------------------
# For every flow run of a deployment, Prefect's engine starts a thread with an event loop, a Prefect
# client and an events websocket to notice a `Suspended` state set from outside, and blocks the calling
# event loop - here the whole worker's - until that thread is ready, and again when it joins it
# (measured: 100-300 ms per flow run on the critical path, more with the machine loaded). Flowyard never
# suspends a flow run: durable waits leave the batch (status `waiting`) and cancellation is watched by
# this worker. A suspension requested from the Prefect UI is not honoured mid-run; the run's next state
# proposal is answered by Prefect's orchestration as for any run no longer Running.


@contextlib.contextmanager
def _no_suspension_observer(
    flow_run_id: uuid.UUID, suspension_request: FlowRunSuspensionRequest, polling_interval: float = 10
) -> Iterator[None]:
    yield


flow_engine.observe_flow_run_suspension = _no_suspension_observer


# --- the worker ---------------------------------------------------------------------------------


class FlowyardWorkerResult(BaseWorkerResult):
    """How a flow run ended in this worker: status_code 0 unless the engine itself failed."""


class FlowyardWorker(BaseWorker[BaseJobConfiguration, BaseVariables, FlowyardWorkerResult]):
    type = WORKER_TYPE
    job_configuration = BaseJobConfiguration
    job_configuration_variables = BaseVariables
    _description = "Runs many Flowyard graph-interpreter flow runs concurrently in one long-lived process."
    _display_name = "Flowyard"

    def __init__(self, *args: Any, flow: Flow[..., Any] = graph_interpreter, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._flow = flow
        self._flows: dict[str, Flow[..., Any]] = {
            flow.name: flow,
            MAINTENANCE_FLOW: flowyard_maintenance,
            REENCRYPT_FLOW: flowyard_reencrypt,
        }
        self._flow_names: dict[uuid.UUID, str] = {}  # flow id -> name, asked of Prefect once per flow
        self._active: dict[uuid.UUID, tuple[asyncio.Task[FlowyardWorkerResult], RunControl]] = {}
        self._woken = asyncio.Event()  # set: poll Prefect now (see `poll_when_woken`)
        self._left_behind = False  # the last poll found more flow runs than free slots

    def wake(self) -> None:
        """Poll Prefect now rather than at the next poll (call it in the worker's event loop)."""
        self._woken.set()

    async def _submit_scheduled_flow_runs(self, flow_run_response: list[WorkerFlowRunResponse]) -> list[FlowRun]:
        submitted = await super()._submit_scheduled_flow_runs(flow_run_response)
        self._left_behind = len(submitted) < len(flow_run_response)
        return submitted

    def in_flight_ids(self) -> set[uuid.UUID]:
        """Flow runs this worker has claimed or is running."""
        return set(self._active) | self._submitting_flow_run_ids

    async def run(
        self,
        flow_run: FlowRun,
        configuration: BaseJobConfiguration,
        task_status: anyio.abc.TaskStatus[int] | None = None,
    ) -> FlowyardWorkerResult:
        """Run one flow run here and now (BaseWorker's entry point; the polling path uses `_submit_run`)."""
        if task_status is not None:
            task_status.started(os.getpid())
        return await self._execute(flow_run)

    async def _submit_run(self, flow_run: FlowRun) -> None:
        """Claim the flow run with `Pending`, then run it in this process; never raises."""
        try:
            if await self._propose_pending_state(flow_run):
                await self._execute(flow_run)
        except Exception:
            self._logger.exception("flow run %s could not be run", flow_run.id)
        finally:
            self._release_limit_slot(flow_run.id)
            self._submitting_flow_run_ids.discard(flow_run.id)
            if self._left_behind:  # a slot is free and a flow run waits for one: take it now
                self._left_behind = False
                self.wake()

    async def _execute(self, flow_run: FlowRun) -> FlowyardWorkerResult:
        # Before the engine starts, not alongside it: on a SQLite Prefect server the label, written while the
        # engine updates the same flow run, was lost (and with it the crash detection of a dead worker).
        try:  # how a dead worker's runs are found; quick retries: a SQLite Prefect often answers it 503
            await prefect_retries.acall(self._give_worker_labels_to_flow_run, flow_run.id)
        except Exception:
            self._logger.warning("could not label flow run %s with this worker", flow_run.id, exc_info=True)
        control = RunControl()
        task = asyncio.create_task(self._run_flow(flow_run, control), name=f"flow-run-{flow_run.id}")
        self._active[flow_run.id] = (task, control)
        try:
            return await task
        finally:
            self._active.pop(flow_run.id, None)

    async def _run_flow(self, flow_run: FlowRun, control: RunControl) -> FlowyardWorkerResult:
        _run_control.set(control)
        try:
            flow = await self._flow_for(flow_run)
            await run_flow_async(flow, flow_run=flow_run, parameters=flow_run.parameters, return_type="state")
        except (TerminationSignal, Abort):  # cancelled (the engine set Cancelled, ran the hooks) or refused by Prefect
            pass
        except asyncio.CancelledError:  # never let it reach the task group: it would stop the whole worker
            if control.cancelling:  # cancelled before or after the engine watched for it
                await self._mark_flow_run_as_cancelled(flow_run, {"message": "Cancelled on request."})
            return FlowyardWorkerResult(identifier=str(flow_run.id), status_code=1)  # else drained: Crashed
        except Exception as exc:  # the engine itself failed (e.g. the API went away): do not leave it Running
            self._logger.exception("flow run %s failed in the engine", flow_run.id)
            await self._report_crashed(flow_run, f"The Flowyard worker could not run it: {exc!r}")
            return FlowyardWorkerResult(identifier=str(flow_run.id), status_code=1)
        return FlowyardWorkerResult(identifier=str(flow_run.id), status_code=0)

    async def _report_crashed(self, flow_run: FlowRun, message: str) -> None:
        """Set the flow run Crashed, so that the dispatcher resumes its executions; tried again while Prefect
        cannot take it (its database restarting, say). Nothing else would notice a flow run left Running by a
        worker that lives on: crash detection goes by the worker's heartbeats."""
        for pause in CRASH_REPORT_PAUSES:
            try:
                await propose_state(self.client, Crashed(message=message), flow_run_id=flow_run.id)
                return
            except (Abort, ObjectNotFound):  # ended meanwhile, or deleted
                return
            except Exception as exc:
                self._logger.warning(
                    "flow run %s not reported Crashed yet (%r); again in %g s", flow_run.id, exc, pause
                )
                await asyncio.sleep(pause)
        self._logger.error("flow run %s could not be reported Crashed: it stays Running", flow_run.id)

    async def _flow_for(self, flow_run: FlowRun) -> Flow[..., Any]:
        """The flow a flow run's deployment runs: the interpreter, or a system flow (by the flow's name)."""
        name = self._flow_names.get(flow_run.flow_id)
        if name is None:
            name = self._flow_names[flow_run.flow_id] = (await self.client.read_flow(flow_run.flow_id)).name
        return self._flows.get(name, self._flow)

    # --- cancellation -------------------------------------------------------------------------

    async def check_cancellations(self) -> None:
        """Cancel this worker's flow runs that Prefect marks `Cancelling`."""
        ids = list(self.in_flight_ids())
        if not ids:
            return
        cancelling = await self.client.read_flow_runs(
            flow_run_filter=FlowRunFilter(
                id=FlowRunFilterId(any_=ids),
                state=FlowRunFilterState(type=FlowRunFilterStateType(any_=[StateType.CANCELLING])),
            )
        )
        for flow_run in cancelling:
            await self.cancel(flow_run)

    async def cancel(self, flow_run: FlowRun) -> None:
        entry = self._active.get(flow_run.id)
        if entry is None:  # claimed but not started: nothing runs yet
            await self.client.set_flow_run_state(
                flow_run.id, Cancelled(message="Cancelled before it started."), force=True
            )
            return
        task, control = entry
        if not control.cancelling:
            self.get_flow_run_logger(flow_run).info("Cancelling flow run %s on request", flow_run.id)
            control.cancelling = True
            task.cancel()

    # --- shutdown -----------------------------------------------------------------------------

    async def drain(self, timeout: float) -> None:
        """Wait for in-flight runs; stop (crash) whatever is still running after `timeout` seconds."""
        deadline = time.monotonic() + timeout
        while self.in_flight_ids() and time.monotonic() < deadline:
            await asyncio.sleep(STOP_CHECK_SECONDS)
        left = [task for task, _ in self._active.values()]
        for task in left:
            task.cancel()
        if left:
            self._logger.warning("stopped %d flow runs still running after %.0f s", len(left), timeout)
            await asyncio.wait(left, timeout=30)


async def until_it_gives_up(
    workload: Callable[[], Coroutine[Any, Any, Any]], interval: float, *, patience_seconds: float = 0.0
) -> None:
    """Run `workload` every `interval` s through Prefect's `critical_service_loop`: an error of the Prefect API
    (unreachable, 5xx: restarting, or its database is) is logged and, after 3 in a row (or as many as fill
    `patience_seconds`), makes the loop back off (its interval doubles); the fourth time, it gives up and this
    returns."""
    in_a_row = max(3, math.ceil(patience_seconds / interval))
    with contextlib.suppress(RuntimeError):  # "Service exceeded error threshold."
        await critical_service_loop(
            workload=workload,
            interval=interval,
            consecutive=in_a_row,
            jitter_range=0.3,
            backoff=4,
            printer=_log_service_loop,
        )


async def heartbeat_once(worker: BaseWorker[Any, Any, Any]) -> None:
    """One heartbeat, asked of Prefect once. Prefect's client would retry it for up to a minute with back-off, so
    the first heartbeat after an outage could come long after Prefect is back, when the dispatcher already
    judges workers again: this live worker would look dead. Its loop asks again every interval instead."""
    with prefect_retries.few_retries(0):
        await worker._sync_and_initialize()


def _log_service_loop(*lines: object) -> None:
    """`critical_service_loop`'s printer, which it also calls with nothing (a blank line)."""
    if lines:
        log.warning("%s", " ".join(map(str, lines)).rstrip())


async def poll_when_woken(worker: FlowyardWorker) -> None:
    """Poll Prefect each time the worker is woken (the dispatcher created flow runs, or a slot freed up while
    flow runs waited for one); wake-ups that arrive while a poll runs make one more poll. Errors are logged:
    the regular poll loop decides when to give up."""
    while True:
        await worker._woken.wait()
        worker._woken.clear()
        try:
            await worker.get_and_submit_flow_runs()
        except Exception:
            log.warning("poll on wake-up failed", exc_info=True)


async def serve(
    worker: FlowyardWorker,
    stop: threading.Event,
    *,
    poll_seconds: float,
    drain_seconds: float,
    database_url: str | None = None,
) -> bool:
    """Poll, heartbeat and watch cancellations until `stop` is set; then drain. False if a loop gave up.
    With `database_url` (the platform database), the dispatcher's wake-ups make it poll at once."""
    gave_up: list[str] = []

    async def loop(
        workload: Callable[[], Coroutine[Any, Any, Any]],
        interval: float,
        scope: anyio.CancelScope | None = None,
        patience_seconds: float = 0.0,
    ) -> None:
        with scope or anyio.CancelScope():
            await until_it_gives_up(workload, interval, patience_seconds=patience_seconds)
            gave_up.append(workload.__name__)  # repeated errors: exit, so that a supervisor restarts us
            stop.set()

    # One Prefect client for the whole process: the engine, its observers and result storage look up the
    # client in context and would otherwise build several per flow run (each builds an SSL context).
    with SyncClientContext():
        async with AsyncClientContext(), worker, anyio.create_task_group() as loops:
            prefect_retries.install(worker.client)
            polling, on_wake_up = anyio.CancelScope(), anyio.CancelScope()
            loops.start_soon(loop, worker.get_and_submit_flow_runs, poll_seconds, polling)

            # Heartbeats do not back off during a Prefect outage shorter than HEARTBEAT_PATIENCE_SECONDS: the
            # dispatcher judges workers again soon after Prefect is back, and a worker still backing off would
            # look dead and have its running batches crashed.
            loops.start_soon(
                loop,
                partial(heartbeat_once, worker),
                worker.heartbeat_interval_seconds,
                None,
                HEARTBEAT_PATIENCE_SECONDS,
            )
            loops.start_soon(loop, worker.check_cancellations, CANCEL_POLL_SECONDS)

            async def polls_on_wake_up() -> None:
                with on_wake_up:
                    await poll_when_woken(worker)

            loops.start_soon(polls_on_wake_up)
            listening = threading.Event()  # set: the listener thread ends
            if database_url:
                event_loop = asyncio.get_running_loop()
                threading.Thread(
                    target=wakeup.listen,
                    name="flowyard-wakeup",
                    daemon=True,
                    args=(database_url, lambda: event_loop.call_soon_threadsafe(worker.wake), listening),
                ).start()
            log.warning(
                "Flowyard worker %r polling pool %r (limit %s)", worker.name, worker._work_pool_name, worker._limit
            )
            while not stop.is_set():
                await asyncio.sleep(STOP_CHECK_SECONDS)
            polling.cancel()
            on_wake_up.cancel()
            listening.set()
            log.warning("draining %d in-flight flow runs", len(worker.in_flight_ids()))
            await worker.drain(drain_seconds)
            loops.cancel_scope.cancel()
    log.warning("Flowyard worker %r stopped", worker.name)
    return not gave_up


def warm_up() -> None:
    """Build once, before the first flow run, what the first step of its kind would otherwise build on the
    worker's event loop: CEL's parser (about 0.4 s) and the template engine."""
    from flow_factory.conditions import evaluate
    from flow_factory.expressions import render_value

    evaluate("trigger.x > 1", {"trigger": {"x": 2}})
    render_value({"text": "{{ trigger.x }}"}, {"trigger": {"x": 2}})


def worker_name() -> str:
    return f"flowyard-{socket.gethostname()}-{uuid.uuid4().hex[:8]}"


def main(argv: list[str] | None = None) -> int:
    settings = get_settings()
    config = settings.worker
    parser = argparse.ArgumentParser(prog="python -m engine.worker", description=__doc__.splitlines()[0])
    parser.add_argument("--pool", default=config.work_pool, help="work pool to take flow runs from")
    parser.add_argument("--limit", type=int, default=settings.worker_limit, help="most flow runs at once")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")

    api_url = settings.prefect_api_url
    os.environ["PREFECT_API_URL"] = api_url  # explicit: never an ephemeral server
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    prefetch = config.poll_seconds + 1  # a scheduled run is taken ahead; the engine waits for its time
    worker = FlowyardWorker(
        args.pool,
        name=worker_name(),
        limit=args.limit,
        prefetch_seconds=prefetch,
        heartbeat_interval_seconds=config.heartbeat_seconds,
        base_job_template=FlowyardWorker.get_default_base_job_template(),
    )
    errors: list[BaseException | str] = []
    warm_up()

    def run() -> None:
        try:
            if not asyncio.run(
                serve(
                    worker,
                    stop,
                    poll_seconds=config.poll_seconds,
                    drain_seconds=config.drain_seconds,
                    database_url=settings.platform_database_url,
                )
            ):
                errors.append("a worker loop gave up after repeated errors")
        except BaseException as exc:  # reported by the main thread
            errors.append(exc)
            stop.set()

    prefect_settings = {
        **api_settings(settings),  # the API URL and its auth string, for every client of this process
        PREFECT_WORKER_PREFETCH_SECONDS: prefetch,
        PREFECT_LOGGING_TO_API_BATCH_INTERVAL: LOG_BATCH_SECONDS,
        # a flow-run heartbeat is a thread per run; this worker's own heartbeat covers its runs
        "flows.heartbeat_frequency": None,
    }
    with temporary_settings(prefect_settings):
        thread = threading.Thread(target=contextvars.copy_context().run, args=(run,), name="flowyard-worker")
        thread.start()
        while thread.is_alive():
            thread.join(0.5)
    if errors:
        error = errors[0]
        log.error("Flowyard worker failed: %s", error, exc_info=error if isinstance(error, BaseException) else None)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
