"""The interpreter's storage inside a tenant's Job: its batch through the platform API's internal routes
(`/internal/batches/{batch_id}/…`), with the batch's token and no database credentials (issue 18 item 2)."""

from __future__ import annotations

import json
import time
from collections import Counter
from datetime import datetime
from typing import Any

import httpx
from pydantic import TypeAdapter
from pydantic_core import to_jsonable_python

from core.settings import BatchDoorSettings
from store.batches import BatchWork, StepWrite
from store.statuses import ExecutionStatus

CHUNK_BYTES = 512 * 1024  # step rows per request, well under the API's body limit (1 MiB by default)
ATTEMPTS = 6  # a request refused for load (429, 503) or never sent is tried again, with back-off
TIMEOUT_SECONDS = 60.0
WORK = TypeAdapter(BatchWork)


class BatchDoorError(Exception):
    """The platform API refused a call of the batch door; the text is its problem detail (ids only)."""


class BatchDoor:
    """What `store.batches.BatchStore` does for the interpreter, asked of the platform API."""

    def __init__(self, settings: BatchDoorSettings, http: httpx.Client | None = None) -> None:
        if not settings.url or settings.token is None:
            raise ValueError("the batch door needs FLOWYARD_BATCH_DOOR__URL and FLOWYARD_BATCH_DOOR__TOKEN")
        self._http = http or httpx.Client(base_url=settings.url.rstrip("/"), timeout=TIMEOUT_SECONDS)
        self._headers = {
            "Authorization": f"Bearer {settings.token.get_secret_value()}",
            "Content-Type": "application/json",
        }
        self._batch_id = ""

    def start_in_flow_run(self, batch_id: str, deployment_id: str | None) -> BatchWork:
        """The token names the batch; the platform checks that the batch is its deployment's."""
        self._batch_id = batch_id
        return WORK.validate_python(self._post("start", None))

    def cancelled_among(self, execution_ids: list[str]) -> set[str]:
        if not execution_ids:
            return set()
        return set(self._post("cancelled", {"execution_ids": execution_ids})["execution_ids"])

    def write_steps(self, writes: list[StepWrite]) -> None:
        for chunk in _chunks(writes):
            self._post("steps", {"writes": chunk})

    def finish(self, outcomes: dict[str, dict[str, Any]], steps: list[StepWrite] | None = None) -> None:
        writes = _as_json(steps or [])
        if len(json.dumps(writes)) > CHUNK_BYTES:  # the rows first, then the ends, in requests under the limit
            self.write_steps(steps or [])
            writes = []
        self._post("finish", {"outcomes": outcomes, "writes": writes})

    def fail_unfinished(
        self,
        batch_id: str,
        status: ExecutionStatus,
        error: dict[str, Any],
        *,
        deployment_id: str | None = None,
        flow_run_id: str | None = None,
    ) -> None:
        self._batch_id = batch_id
        self._post("fail", {"status": status, "error": error, "flow_run_id": flow_run_id})

    def resume_unfinished(
        self,
        batch_id: str,
        *,
        most: int,
        reason: str,
        deployment_id: str | None = None,
        flow_run_id: str | None = None,
    ) -> Counter[str]:
        """`most` is the platform's to say (FLOWYARD_EXECUTION__MAX_RESUMPTIONS), not the Job's."""
        self._batch_id = batch_id
        return Counter(self._post("resume", {"reason": reason, "flow_run_id": flow_run_id}))

    def enqueue_tick(
        self, workflow_id: str, flow_run_id: str, scheduled_at: datetime, deployment_id: str | None
    ) -> str:
        raise BatchDoorError(
            "a schedule's tick cannot be queued from a tenant's Job: the batch door opens batches only"
        )

    def _post(self, call: str, body: Any) -> Any:
        url = f"/internal/batches/{self._batch_id}/{call}"
        content = json.dumps(to_jsonable_python(body)).encode() if body is not None else b""
        for attempt in range(ATTEMPTS):
            try:
                answer = self._http.post(url, content=content, headers=self._headers)
            except httpx.ConnectError:  # never sent: safe to send again
                if attempt == ATTEMPTS - 1:
                    raise
                time.sleep(2**attempt)
                continue
            if answer.status_code in (429, 503) and attempt < ATTEMPTS - 1:
                time.sleep(float(answer.headers.get("Retry-After", 2**attempt)))
                continue
            if answer.is_error:
                raise BatchDoorError(f"{call}: {answer.status_code} {_detail(answer)}")
            return answer.json() if answer.content else None
        raise AssertionError("unreachable")


def _detail(answer: httpx.Response) -> str:
    """The problem's detail, or what a proxy in the way answered instead of a problem."""
    try:
        return str(answer.json().get("detail", answer.text))
    except ValueError:
        return answer.text[:200] or answer.reason_phrase


def _as_json(writes: list[StepWrite]) -> list[dict[str, Any]]:
    return [{"kind": kind, "rows": to_jsonable_python(rows)} for kind, rows in writes if rows]


def _chunks(writes: list[StepWrite]) -> list[list[dict[str, Any]]]:
    """The writes in order, split into requests of at most about CHUNK_BYTES of rows."""
    chunks: list[list[dict[str, Any]]] = [[]]
    size = 0
    for write in _as_json(writes):
        for row in write["rows"]:
            row_bytes = len(json.dumps(row))
            if size and size + row_bytes > CHUNK_BYTES:
                chunks.append([])
                size = 0
            current = chunks[-1]
            if not current or current[-1]["kind"] != write["kind"]:
                current.append({"kind": write["kind"], "rows": []})
            current[-1]["rows"].append(row)
            size += row_bytes
    return [chunk for chunk in chunks if chunk]
