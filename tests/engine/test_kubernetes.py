"""Kubernetes, checked offline: the Flowyard worker's manifests are valid Kubernetes objects whose settings Flowyard
reads, and Prefect's Kubernetes worker builds a valid Job for a Flowyard batch from the pool template in
`k8s/base/worker` (its own code, against the real Prefect server of `flowyard up`). The Job runs
`prefect flow-run execute`, the command Prefect's process worker runs in `test_worker.py`."""

from __future__ import annotations

import asyncio
import base64
import json
import uuid
from pathlib import Path

import kubernetes_validate
import yaml
from prefect.client.orchestration import PrefectClient
from prefect.client.schemas.actions import WorkPoolCreate
from prefect_kubernetes.worker import KubernetesWorkerJobConfiguration

from core.settings import Settings
from tests.engine.support import Workflow, prefect_client
from tests.engine.test_worker import held_graph
from tests.support import Api

MANIFESTS = Path(__file__).parents[2] / "k8s" / "base" / "worker"
KUBERNETES = "1.33"


def worker_manifests() -> list[dict]:
    return list(yaml.safe_load_all((MANIFESTS / "flowyard-worker.yaml").read_text()))


def test_worker_manifests_are_valid_and_give_the_worker_time_to_drain(monkeypatch):
    for manifest in worker_manifests():
        kubernetes_validate.validate(manifest, KUBERNETES, strict=True)
    pod = next(m for m in worker_manifests() if m["kind"] == "Deployment")["spec"]["template"]["spec"]
    container = pod["containers"][0]
    assert container["command"] == ["python", "-m", "engine.worker"]

    from_secret = {v["name"]: v["valueFrom"]["secretKeyRef"] for v in container["env"] if "valueFrom" in v}
    # the Prefect API's auth string comes from the Secret, never written in a manifest
    assert from_secret == {"PREFECT_API_AUTH_STRING": {"name": "flowyard", "key": "PREFECT_API_AUTH_STRING"}}
    for variable in container["env"]:  # each is a setting Flowyard reads (a misspelt one would be ignored)
        monkeypatch.setenv(variable["name"], variable.get("value", "user:from-the-secret"))
    settings = Settings(
        master_key=base64.b64encode(b"k" * 32).decode(),
        database_url="postgresql://flowyard@db/flowyard?sslmode=verify-full&sslrootcert=/etc/flowyard/db-ca.crt",
    )
    assert settings.prefect.auth_string is not None
    assert settings.prefect.auth_string.get_secret_value() == "user:from-the-secret"
    assert settings.environment == "production"
    assert settings.prefect_api_url == "http://prefect-server.flowyard.svc:4200/api"
    assert settings.worker.work_pool == "flowyard"
    assert pod["terminationGracePeriodSeconds"] > settings.worker.drain_seconds


def test_prefects_kubernetes_worker_builds_a_valid_job_for_a_flowyard_batch(stack):
    template = json.loads((MANIFESTS / "kubernetes-pool.json").read_text())
    pool = f"k8s-{uuid.uuid4().hex[:8]}"
    with prefect_client(stack) as client:  # Prefect validates the template as it stores it
        client.create_work_pool(WorkPoolCreate(name=pool, type="kubernetes", base_job_template=template))
    workflow = Workflow(stack, Api(stack.api_url).signup(), held_graph("http://127.0.0.1:9"), pool)
    _, flow_run_id, _ = workflow.run_batch([{"n": 1}])

    job = asyncio.run(job_configuration(stack.prefect_url, stack.auth_string, pool, flow_run_id))

    pod = job.job_manifest["spec"]["template"]["spec"]
    # Prefect's worker insists on these two in the pod spec, where Kubernetes has no such fields: the API server
    # drops them with a warning. Everything else must be valid as it stands.
    assert (pod.pop("parallelism"), pod.pop("completions")) == (1, 1)
    kubernetes_validate.validate(job.job_manifest, KUBERNETES, strict=True)
    container = pod["containers"][0]
    assert job.job_manifest["metadata"]["namespace"] == "flowyard"
    assert container["image"] == "flowyard:latest" and container["args"] == ["prefect", "flow-run", "execute"]
    env = {item["name"]: item.get("value") for item in container["env"]}
    assert env["PREFECT__FLOW_RUN_ID"] == flow_run_id and env["FLOWYARD_ENVIRONMENT"] == "production"
    assert container["envFrom"] == [{"secretRef": {"name": "flowyard"}}]
    assert pod["securityContext"]["runAsNonRoot"] is True


async def job_configuration(
    api_url: str, auth_string: str, pool: str, flow_run_id: str
) -> KubernetesWorkerJobConfiguration:
    """What Prefect's Kubernetes worker makes of the flow run before it creates the Job."""
    async with PrefectClient(api_url, auth_string=auth_string) as client:
        return await KubernetesWorkerJobConfiguration.resolve_for_flow_run(
            await client.read_flow_run(uuid.UUID(flow_run_id)),
            client=client,
            work_pool=await client.read_work_pool(pool),
            worker_name="kubernetes-test",
        )
