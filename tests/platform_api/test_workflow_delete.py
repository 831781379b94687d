"""Deleting a workflow through the public API, on SQLite and PostgreSQL: it goes to the trash (gone from the list,
404 `workflow-deleted` on reads, live runs refused, events start nothing, its webhook answers 410, its active
runs cancelled), `GET /api/v1/workflows/trash` lists it with `purge_after`, and restoring brings it back as it
was (disabled or not) unless a live workflow took its name (409, or restore it under another name). Editors and
above only, and only in their own workspace; each act is audited. After 30 days the retention purge deletes it
with its runs and its Prefect deployment, in bounded batches, once.

The runs are written straight into the database (the in-process API has no engine); on `flowyard up`
(`stack`): its Prefect schedules pause and resume, its webhook answers 410 over HTTP, and the purge deletes its
Prefect deployment."""

from __future__ import annotations

import subprocess
import sys
import uuid
from datetime import datetime, timedelta
from uuid import UUID

import httpx
import pytest
from prefect.exceptions import ObjectNotFound
from sqlalchemy import func, select, update

from engine.retention import PurgeReport, purge_deleted_workflows
from platform_api.triggers.service import sync_endpoint
from store import (
    AuditEvent,
    Execution,
    ExecutionStatus,
    Tenant,
    TriggerSubscription,
    WebhookEndpoint,
    Workflow,
    WorkflowVersion,
    utcnow,
)
from store.db import get_session_factory
from tests.conftest import InProcessApi
from tests.engine.support import platform_db_url as stack_db_url
from tests.engine.support import prefect_client
from tests.platform_api.test_auth import _problem
from tests.platform_rows import RunRows, add_workflow
from tests.support import Api, edge, graph, node

EVENT_GRAPH = {
    "nodes": [
        {"id": "start", "type": "trigger.event", "config": {"event": "order.paid"}},
        {"id": "say", "type": "util.log", "config": {"message": "hi"}},
    ],
    "edges": [{"id": "e1", "source": "start", "target": "say"}],
}
WEBHOOK_GRAPH = {
    "nodes": [
        {"id": "hook", "type": "trigger.webhook", "config": {"auth": "bearer"}},
        {"id": "say", "type": "util.log", "config": {"message": "hi"}},
    ],
    "edges": [{"id": "e1", "source": "hook", "target": "say"}],
}


@pytest.fixture
def rows(platform_db_url: str, tenant: InProcessApi, api_app):
    """Write published workflows of the tenant and their runs straight into the database."""

    class Rows(RunRows):
        def workflow(self, flow: dict = EVENT_GRAPH) -> str:
            """Published; listening for the event `order.paid` (EVENT_GRAPH) or with a webhook endpoint."""
            with self.sessions.begin() as db:
                workflow = add_workflow(db, db.get_one(Tenant, tenant.signup_body["tenant"]["id"]), graph=flow)
                if flow is EVENT_GRAPH:
                    db.add(
                        TriggerSubscription(
                            tenant_id=workflow.tenant_id, workflow_id=workflow.id, topic="event:order.paid", config={}
                        )
                    )
                return workflow.id

        def webhook(self) -> tuple[str, str]:
            """A published webhook workflow: (its id, its endpoint's secret)."""
            workflow_id = self.workflow(WEBHOOK_GRAPH)
            with self.sessions.begin() as db:
                secret = sync_endpoint(db, api_app.app.state.settings, db.get_one(Workflow, workflow_id), WEBHOOK_GRAPH)
            assert secret
            return workflow_id, secret

        def endpoint(self, workflow_id: str) -> str:
            """The webhook endpoint id of a workflow, deleted or not."""
            with self.sessions() as db:
                return db.scalars(select(WebhookEndpoint.id).where(WebhookEndpoint.workflow_id == workflow_id)).one()

        def deployment(self, workflow_id: str) -> str:
            with self.sessions() as db:
                return db.get_one(Workflow, workflow_id).deployment_id

        def deleted_days_ago(self, workflow_id: str, days: float) -> None:
            with self.sessions.begin() as db:
                moved = utcnow() - timedelta(days=days)
                db.execute(update(Workflow).where(Workflow.id == workflow_id).values(deleted_at=moved))

        def count(self, table, *conditions) -> int:
            with self.sessions() as db:
                return db.scalar(select(func.count()).select_from(table).where(*conditions)) or 0

    return Rows(platform_db_url, tenant.signup_body["tenant"]["id"])


def _with_role(tenant: InProcessApi, role: str) -> InProcessApi:
    created = tenant.post("/api/v1/api-keys", json={"name": role, "role": role})
    assert created.status_code == 201, created.text
    return InProcessApi(tenant.http, created.json()["key"])


def _audited(api: Api, action: str) -> list[dict]:
    events = api.get("/api/v1/audit", params={"action": action})
    assert events.status_code == 200, events.text
    return events.json()


def _deliver(api: InProcessApi, endpoint_id: str, secret: str) -> httpx.Response:
    return api.http.post(f"/hooks/{endpoint_id}", json={"n": 1}, headers={"Authorization": f"Bearer {secret}"})


def _delete(api: Api, workflow_id: str) -> dict:
    deleted = api.delete(f"/api/v1/workflows/{workflow_id}")
    assert deleted.status_code == 200, deleted.text
    return deleted.json()


def _create(api: Api, name: str, flow: dict) -> str:
    created = api.post("/api/v1/workflows", json={"name": name, "graph": flow})
    assert created.status_code == 201, created.text
    return created.json()["id"]


def test_a_deleted_workflow_leaves_lists_and_reads_refuses_runs_and_its_active_runs_are_cancelled(tenant, rows):
    workflow_id, other = rows.workflow(), rows.workflow()
    name = tenant.get(f"/api/v1/workflows/{workflow_id}").json()["name"]
    queued = rows.run(workflow_id)
    waiting = rows.run(workflow_id, ExecutionStatus.WAITING, waiting_node_id="say", resume_at=utcnow())
    rows.pending_approval(waiting, "say")
    done = rows.run(workflow_id, ExecutionStatus.COMPLETED, ended_at=utcnow())
    elsewhere = rows.run(other)

    deleted = _delete(_with_role(tenant, "editor"), workflow_id)

    assert deleted["id"] == workflow_id and deleted["name"] == name and deleted["cancelled_runs"] == 2
    deleted_at = datetime.fromisoformat(deleted["deleted_at"])
    assert datetime.fromisoformat(deleted["purge_after"]) - deleted_at == timedelta(days=30)
    assert workflow_id not in {w["id"] for w in tenant.get("/api/v1/workflows").json()}
    gone = _problem(tenant.get(f"/api/v1/workflows/{workflow_id}"), 404, "workflow-deleted")
    assert f"/api/v1/workflows/{workflow_id}/restore" in gone["hint"]
    for path in ("", "/versions", "/webhook"):
        _problem(tenant.get(f"/api/v1/workflows/{workflow_id}{path}"), 404, "workflow-deleted")
    _problem(tenant.put(f"/api/v1/workflows/{workflow_id}", json={"description": "x"}), 404, "workflow-deleted")
    _problem(tenant.post(f"/api/v1/workflows/{workflow_id}/runs", json={"input": {}}), 404, "workflow-deleted")
    _problem(tenant.post(f"/api/v1/workflows/{workflow_id}/publish"), 404, "workflow-deleted")
    _problem(tenant.delete(f"/api/v1/workflows/{workflow_id}"), 404, "workflow-deleted")  # once is enough

    event = tenant.post("/api/v1/events", json={"name": "order.paid", "payload": {}})
    assert event.status_code == 202, event.text
    assert [run["workflow_id"] for run in event.json()["runs"]] == [other]  # the deleted one starts nothing

    statuses = {run_id: tenant.get(f"/api/v1/runs/{run_id}").json()["status"] for run_id in (queued, waiting, done)}
    assert statuses == {queued: "cancelled", waiting: "cancelled", done: "completed"}  # its history stays
    assert tenant.get(f"/api/v1/runs/{elsewhere}").json()["status"] == "pending"
    approvals = {a["run_id"]: a["status"] for a in tenant.get("/api/v1/approvals").json()}
    assert approvals[waiting] == "cancelled"

    [trashed] = tenant.get("/api/v1/workflows/trash").json()
    assert (trashed["id"], trashed["name"], trashed["purge_after"]) == (workflow_id, name, deleted["purge_after"])
    [audited] = _audited(tenant, "workflow.deleted")
    assert audited["target"] == f"workflow:{workflow_id}" and audited["detail"]["cancelled_runs"] == 2
    cancelled = {event["target"] for event in _audited(tenant, "run.cancelled")}
    assert cancelled == {f"run:{queued}", f"run:{waiting}"}


def test_a_deleted_webhook_workflow_answers_410_with_a_hint_until_it_is_restored(tenant, rows):
    workflow_id, secret = rows.webhook()
    endpoint_id = rows.endpoint(workflow_id)
    accepted = _deliver(tenant, endpoint_id, secret)
    assert accepted.status_code == 202, accepted.text

    assert _delete(tenant, workflow_id)["cancelled_runs"] == 1  # the delivery's run, still queued
    refused = _problem(_deliver(tenant, endpoint_id, secret), 410, "workflow-deleted")
    assert f"/api/v1/workflows/{workflow_id}/restore" in refused["hint"]
    forged = _deliver(tenant, endpoint_id, "nope")
    assert forged.status_code == 401  # the signature is checked first: a stranger learns nothing

    restored = tenant.post(f"/api/v1/workflows/{workflow_id}/restore")
    assert restored.status_code == 200, restored.text
    again = _deliver(tenant, endpoint_id, secret)
    assert again.status_code == 202, again.text


def test_restoring_brings_it_back_as_it_was_with_its_triggers(tenant, rows):
    workflow_id, disabled_id = rows.workflow(), rows.workflow()
    assert tenant.post(f"/api/v1/workflows/{disabled_id}/disable").json()["disabled"] is True
    before = {w: tenant.get(f"/api/v1/workflows/{w}").json() for w in (workflow_id, disabled_id)}
    for w in (workflow_id, disabled_id):
        _delete(tenant, w)
    assert {w["id"] for w in tenant.get("/api/v1/workflows/trash").json()} == {workflow_id, disabled_id}

    editor = _with_role(tenant, "editor")
    for w in (workflow_id, disabled_id):
        restored = editor.post(f"/api/v1/workflows/{w}/restore")
        assert restored.status_code == 200, restored.text
        same = ("name", "slug", "version", "published_version", "disabled", "graph", "updated_at", "deployment_name")
        assert {k: restored.json()[k] for k in same} == {k: before[w][k] for k in same}
    assert restored.json()["disabled"] is True  # a disabled workflow stays disabled
    assert tenant.get("/api/v1/workflows/trash").json() == []
    assert {workflow_id, disabled_id} <= {w["id"] for w in tenant.get("/api/v1/workflows").json()}

    event = tenant.post("/api/v1/events", json={"name": "order.paid", "payload": {}}).json()
    started = {run["workflow_id"]: run for run in event["runs"]}
    assert started[workflow_id]["run_id"]  # its subscription is back
    assert started[disabled_id]["run_id"] is None and "disabled" in started[disabled_id]["error"]
    assert tenant.post(f"/api/v1/workflows/{workflow_id}/runs", json={"input": {}}).status_code == 202
    restored_events = _audited(tenant, "workflow.restored")
    assert {event["target"] for event in restored_events} == {f"workflow:{workflow_id}", f"workflow:{disabled_id}"}
    _problem(tenant.post(f"/api/v1/workflows/{workflow_id}/restore"), 409, "not-deleted")


def test_a_name_taken_meanwhile_is_a_409_and_another_name_restores_it(tenant, minimal_graph):
    name = f"Reports {uuid.uuid4().hex[:6]}"
    first = _create(tenant, name, minimal_graph)
    _delete(tenant, first)
    second = _create(tenant, name, minimal_graph)  # the deleted one's name is free

    clash = _problem(tenant.post(f"/api/v1/workflows/{first}/restore"), 409, "name-taken")
    assert name in clash["detail"] and '"name"' in clash["hint"]
    assert clash["errors"][0]["path"] == "name"
    assert first in {w["id"] for w in tenant.get("/api/v1/workflows/trash").json()}  # still in the trash

    restored = tenant.post(f"/api/v1/workflows/{first}/restore", json={"name": f"{name} (old)"})
    assert restored.status_code == 200, restored.text
    assert restored.json()["name"] == f"{name} (old)"
    names = {w["id"]: w["name"] for w in tenant.get("/api/v1/workflows").json()}
    assert (names[first], names[second]) == (f"{name} (old)", name)
    [audited] = _audited(tenant, "workflow.restored")
    assert audited["detail"]["renamed_from"] == name


def test_only_editors_and_above_delete_and_restore_and_only_in_their_own_workspace(tenant, anonymous, rows):
    workflow_id = rows.workflow()
    operator, viewer = _with_role(tenant, "operator"), _with_role(tenant, "viewer")
    _problem(operator.delete(f"/api/v1/workflows/{workflow_id}"), 403, "forbidden")
    stranger = anonymous.signup()
    _problem(stranger.delete(f"/api/v1/workflows/{workflow_id}"), 404, "not-found")
    assert tenant.get(f"/api/v1/workflows/{workflow_id}").status_code == 200  # untouched

    _delete(tenant, workflow_id)
    _problem(operator.post(f"/api/v1/workflows/{workflow_id}/restore"), 403, "forbidden")
    _problem(stranger.post(f"/api/v1/workflows/{workflow_id}/restore"), 404, "not-found")
    _problem(stranger.get(f"/api/v1/workflows/{workflow_id}"), 404, "not-found")  # not even that it was deleted
    assert stranger.get("/api/v1/workflows/trash").json() == []
    assert [w["id"] for w in viewer.get("/api/v1/workflows/trash").json()] == [workflow_id]  # monitor may look
    _problem(tenant.post(f"/api/v1/workflows/{uuid.uuid4()}/restore"), 404, "not-found")


def test_the_trash_is_paged_last_deleted_first(tenant, rows):
    ids = [rows.workflow() for _ in range(3)]
    for days, workflow_id in zip((3, 2, 1), ids, strict=True):
        _delete(tenant, workflow_id)
        rows.deleted_days_ago(workflow_id, days)
    page = tenant.get("/api/v1/workflows/trash", params={"limit": 2})
    assert [w["id"] for w in page.json()] == [ids[2], ids[1]]
    rest = tenant.get("/api/v1/workflows/trash", params={"limit": 2, "cursor": page.headers["X-Next-Cursor"]})
    assert [w["id"] for w in rest.json()] == [ids[0]]


# --- the purge, 30 days on -----------------------------------------------------------------------


class FakePrefect:
    """Records the deployments deleted; one may already be gone."""

    def __init__(self, gone: set[str] = frozenset()) -> None:
        self.deleted: list[str] = []
        self.gone = set(gone)

    def delete_deployment(self, deployment_id: UUID) -> None:
        if str(deployment_id) in self.gone:
            raise ObjectNotFound(http_exc=Exception("404"))
        self.deleted.append(str(deployment_id))
        self.gone.add(str(deployment_id))


def test_after_30_days_it_cannot_be_restored_and_the_purge_deletes_it_with_its_runs_in_batches_once(
    tenant, rows, platform_db_url
):
    expired, already_gone, recent = rows.workflow(), rows.workflow(), rows.workflow()
    runs = [rows.run(expired, ExecutionStatus.COMPLETED, ended_at=utcnow()) for _ in range(5)]
    deployments = {w: rows.deployment(w) for w in (expired, already_gone, recent)}
    for workflow_id in (expired, already_gone, recent):
        _delete(tenant, workflow_id)
    rows.deleted_days_ago(expired, 31)
    rows.deleted_days_ago(already_gone, 30.01)
    rows.deleted_days_ago(recent, 29)

    late = _problem(tenant.post(f"/api/v1/workflows/{expired}/restore"), 410, "workflow-purged")
    assert late["hint"]

    prefect = FakePrefect(gone={deployments[already_gone]})
    report = PurgeReport()
    purge_deleted_workflows(get_session_factory(platform_db_url), prefect, utcnow(), 2, report)

    assert prefect.deleted == [deployments[expired]]  # the one already gone in Prefect is purged all the same
    assert report.batches["runs"] == [2, 2, 1] and report.totals()["workflows"] == 2
    assert rows.count(Workflow, Workflow.id.in_([expired, already_gone])) == 0
    assert rows.count(WorkflowVersion, WorkflowVersion.workflow_id.in_([expired, already_gone])) == 0
    assert rows.count(Execution, Execution.id.in_(runs)) == 0
    assert rows.count(Workflow, Workflow.id == recent) == 1  # 29 days: still in the trash
    assert [w["id"] for w in tenant.get("/api/v1/workflows/trash").json()] == [recent]
    purged = {event["target"]: event for event in _audited(tenant, "workflow.purged")}
    assert set(purged) == {f"workflow:{expired}", f"workflow:{already_gone}"}
    assert (
        purged[f"workflow:{expired}"]["detail"]["runs"] == 5 and purged[f"workflow:{expired}"]["actor_user_id"] is None
    )
    verified = tenant.get("/api/v1/audit/verify")
    assert verified.status_code == 200 and verified.json()["ok"] is True, verified.text

    again = PurgeReport()
    purge_deleted_workflows(get_session_factory(platform_db_url), FakePrefect(), utcnow(), 2, again)
    assert again.totals() == {}  # nothing left to do
    assert tenant.post(f"/api/v1/workflows/{recent}/restore").status_code == 200
    assert rows.count(AuditEvent, AuditEvent.action == "workflow.purged") >= 2


# --- on `flowyard up` ----------------------------------------------------------------------------------


def test_on_the_stack_deletion_pauses_schedules_refuses_webhooks_and_the_purge_deletes_the_deployment(stack):
    api = Api(stack.api_url).signup()
    scheduled = graph(
        [
            node("tick", "trigger.schedule", {"schedules": [{"cron": "30 2 * * *"}]}),
            node("log", "util.log", {"message": "t"}),
        ],
        [edge("tick", "log")],
    )
    hook = graph(
        [node("hook", "trigger.webhook", {"auth": "bearer"}), node("log", "util.log", {"message": "x"})],
        [edge("hook", "log")],
    )
    schedule_id = _create(api, f"scheduled {uuid.uuid4().hex[:6]}", scheduled)
    hook_id = _create(api, f"hook {uuid.uuid4().hex[:6]}", hook)
    assert api.post(f"/api/v1/workflows/{schedule_id}/publish").status_code == 200
    published = api.post(f"/api/v1/workflows/{hook_id}/publish")
    assert published.status_code == 200, published.text
    secret = published.json()["webhook_secret"]
    url = api.get(f"/api/v1/workflows/{hook_id}/webhook").json()["url"]
    sessions = get_session_factory(stack_db_url(stack))
    with sessions() as db:
        deployments = {w: db.get_one(Workflow, w).deployment_id for w in (schedule_id, hook_id)}

    def schedules_active() -> list[bool]:
        with prefect_client(stack) as client:
            return [schedule.active for schedule in client.read_deployment(deployments[schedule_id]).schedules]

    assert schedules_active() == [True]
    _delete(api, schedule_id)
    assert schedules_active() == [False]
    assert api.post(f"/api/v1/workflows/{schedule_id}/restore").status_code == 200
    assert schedules_active() == [True]

    _delete(api, hook_id)
    refused = httpx.post(url, json={"n": 1}, headers={"Authorization": f"Bearer {secret}"}, timeout=30)
    _problem(refused, 410, "workflow-deleted")

    with sessions.begin() as db:
        db.execute(update(Workflow).where(Workflow.id == hook_id).values(deleted_at=utcnow() - timedelta(days=31)))
    result = subprocess.run(
        [sys.executable, "-m", "flowyard.cli", "maintenance", "run"],
        env=stack.env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    assert "workflows" in result.stdout and "prefect_deployments" in result.stdout
    with prefect_client(stack) as client:
        with pytest.raises(ObjectNotFound):
            client.read_deployment(deployments[hook_id])
        assert client.read_deployment(deployments[schedule_id])  # a restored workflow keeps its deployment
    with sessions() as db:
        assert db.get(Workflow, hook_id) is None
