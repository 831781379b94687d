"""Tenant isolation on a real Kubernetes API server, driven by the platform (`flowyard up` with Kubernetes on,
on SQLite and on PostgreSQL): what signing up creates, what the cluster then refuses, what Prefect refuses, where
Prefect's Kubernetes worker puts a tenant's flow run, and how reconciling, changing the tier and deleting the
workspace change the cluster and Prefect."""

from __future__ import annotations

import base64
import hashlib
import json
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import httpx
import kubernetes_validate
import pytest
import yaml
from kubernetes import client as k8s
from kubernetes import config as k8s_config
from kubernetes.client.exceptions import ApiException
from kubernetes.dynamic.exceptions import NotFoundError
from prefect.client.schemas.filters import DeploymentFilter, DeploymentFilterTags
from prefect.exceptions import ObjectNotFound
from sqlalchemy import select

from core.settings import KubernetesSettings
from engine.kube.objects import FLOW_RUN_ACCOUNT, namespace_name, pool_name, tenant_objects
from engine.kube.reconcile import MANAGED_SELECTOR, NAMESPACED_KINDS
from store import Batch, Execution, Tenant
from store.db import get_session_factory
from tests.engine.support import WorkerProcess, platform_db_url, prefect_client, wait_until
from tests.support import Api, prefect_http, publish, start_run

KUBERNETES = "1.33"


# --- helpers ---------------------------------------------------------------------------------------------------


def kube_settings(stack) -> KubernetesSettings:
    return KubernetesSettings(namespace_prefix=stack.env["FLOWYARD_KUBERNETES__NAMESPACE_PREFIX"])


def signed_up(stack) -> tuple[Api, dict[str, str]]:
    """A new workspace, once the platform has reconciled it on the cluster (after its sign-up's answer)."""
    api = Api(stack.api_url).signup()
    tenant = api.signup_body["tenant"]
    wait_until(lambda: reconciled_at(stack, tenant["id"]), timeout=60, what="the workspace's first reconcile")
    return api, tenant


def reconciled_at(stack, tenant_id: str) -> Any:
    with get_session_factory(platform_db_url(stack))() as db:
        return db.scalar(select(Tenant.kube_reconciled_at).where(Tenant.id == tenant_id))


def managed(kube, namespace: str) -> dict[str, dict]:
    """Every object Flowyard manages in the namespace, as `Kind/name`."""
    found = {}
    for api_version, kind in NAMESPACED_KINDS:
        resource = kube.resources.get(api_version=api_version, kind=kind)
        for item in resource.get(namespace=namespace, label_selector=MANAGED_SELECTOR).to_dict()["items"]:
            found[f"{kind}/{item['metadata']['name']}"] = item
    return found


def read(kube, kind: str, name: str, namespace: str | None = None, api_version: str = "v1") -> dict | None:
    try:
        return kube.resources.get(api_version=api_version, kind=kind).get(name=name, namespace=namespace).to_dict()
    except NotFoundError:
        return None


def flowyard(stack, *args: str) -> subprocess.CompletedProcess:
    """The `flowyard` CLI, as an operator runs it beside the platform."""
    return subprocess.run(
        [sys.executable, "-m", "flowyard.cli", *args], env=stack.env, capture_output=True, text=True, timeout=300
    )


def set_tier(stack, slug: str, tier: str) -> str:
    moved = flowyard(stack, "tenants", "tier", slug, tier)
    assert moved.returncode == 0, moved.stdout + moved.stderr
    return moved.stdout


def quota_pods(kube, namespace: str) -> str:
    quota = read(kube, "ResourceQuota", "flowyard-tenant", namespace)
    assert quota is not None
    return str(quota["spec"]["hard"]["pods"])


def work_pool(stack, slug: str) -> Any:
    with prefect_client(stack) as client:
        try:
            return client.read_work_pool(pool_name(slug))
        except ObjectNotFound:
            return None


def tenant_deployments(stack, tenant_id: str) -> list[Any]:
    tagged = DeploymentFilter(tags=DeploymentFilterTags(all_=[f"tenant:{tenant_id}"]))
    with prefect_client(stack) as client:
        return client.read_deployments(deployment_filter=tagged)


def core_api_with_token(envtest, token: str) -> k8s.CoreV1Api:
    """A client of the envtest cluster that authenticates with `token` alone (not the kubeconfig's admin token)."""
    cluster = yaml.safe_load(Path(envtest.kubeconfig).read_text())["clusters"][0]["cluster"]
    configuration = k8s.Configuration(
        host=cluster["server"], api_key={"BearerToken": token}, api_key_prefix={"BearerToken": "Bearer"}
    )
    configuration.ssl_ca_cert = cluster["certificate-authority"]
    return k8s.CoreV1Api(k8s.ApiClient(configuration))


def admin_core_api(envtest) -> k8s.CoreV1Api:
    return k8s.CoreV1Api(k8s_config.new_client_from_config(config_file=envtest.kubeconfig))


def service_account_token(kube, namespace: str) -> str:
    """The token Kubernetes 1.20 makes for the flow-run ServiceAccount (as a Secret of its own)."""

    def token_secret() -> str | None:
        account = read(kube, "ServiceAccount", FLOW_RUN_ACCOUNT, namespace) or {}
        return next((s["name"] for s in account.get("secrets") or [] if "token" in s["name"]), None)

    secret = read(kube, "Secret", wait_until(token_secret, timeout=60, what="the account's token"), namespace)
    assert secret is not None
    return base64.b64decode(secret["data"]["token"]).decode()


def pod(name: str, containers: int) -> dict:
    """A pod under the restricted profile that declares no resources: the LimitRange gives each container its
    tier's default request and limit."""
    security = {"allowPrivilegeEscalation": False, "runAsNonRoot": True, "capabilities": {"drop": ["ALL"]}}
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name},
        "spec": {
            "serviceAccountName": FLOW_RUN_ACCOUNT,
            "securityContext": {"runAsUser": 10001, "seccompProfile": {"type": "RuntimeDefault"}},
            "containers": [
                {"name": f"c{i}", "image": "flowyard:latest", "securityContext": security} for i in range(containers)
            ],
        },
    }


# --- what a sign-up creates ------------------------------------------------------------------------------------


def test_signing_up_creates_exactly_the_tenants_objects_in_its_namespace(kube_stack, kube):
    _, tenant = signed_up(kube_stack)
    settings = kube_settings(kube_stack)
    namespace = namespace_name(tenant["slug"], settings)

    rendered = tenant_objects(tenant["id"], tenant["slug"], "shared", settings, prefect_auth_string="x")
    expected = {f"{o['kind']}/{o['metadata']['name']}" for o in rendered if o["kind"] != "Namespace"}
    live = managed(kube, namespace)
    assert set(live) == expected
    for obj in rendered:
        kubernetes_validate.validate(obj, KUBERNETES, strict=True)
    labels = read(kube, "Namespace", namespace)["metadata"]["labels"]  # type: ignore[index]
    assert labels["pod-security.kubernetes.io/enforce"] == "restricted"
    assert labels["flowyard.io/tenant-id"] == tenant["id"] and labels["flowyard.io/tier"] == "shared"
    assert live["ResourceQuota/flowyard-tenant"]["spec"]["hard"]["count/jobs.batch"] == "20"
    assert live["ServiceAccount/flowyard-flow-run"]["automountServiceAccountToken"] is False
    secret = {k: base64.b64decode(v).decode() for k, v in live["Secret/flowyard-flow-run"]["data"].items()}
    assert secret == {
        "PREFECT_API_URL": secret["PREFECT_API_URL"],
        "PREFECT_API_AUTH_STRING": kube_stack.auth_string,
        "FLOWYARD_BATCH_DOOR__URL": kube_stack.api_url,  # the batch door; no database URL, no key
    }
    assert kube_stack.master_key not in str(live)  # nor anything else of the platform's
    bindings = kube.resources.get(api_version="rbac.authorization.k8s.io/v1", kind="RoleBinding")
    assert bindings.get(namespace=namespace).to_dict()["items"] == []
    assert work_pool(kube_stack, tenant["slug"]) is None  # the shared tier runs on the shared pool


# --- what the cluster refuses ---------------------------------------------------------------------------------


def test_a_pod_over_the_tenants_quota_is_refused(kube_stack, kube, envtest):
    _, tenant = signed_up(kube_stack)
    namespace = namespace_name(tenant["slug"], kube_settings(kube_stack))
    core = admin_core_api(envtest)
    wait_until(  # the quota controller must have counted the namespace before admission uses the quota
        lambda: (read(kube, "ResourceQuota", "flowyard-tenant", namespace) or {}).get("status", {}).get("hard"),
        timeout=60,
        what="the quota's status",
    )
    with pytest.raises(ApiException) as refused:  # 3 containers x 500m (the shared tier's default limit) > 1 CPU
        core.create_namespaced_pod(namespace, pod("too-big", containers=3))
    assert refused.value.status == 403 and "exceeded quota" in str(refused.value.body)
    admitted = core.create_namespaced_pod(namespace, pod("fits", containers=1))
    assert admitted.spec.containers[0].resources.limits == {"cpu": "500m", "memory": "256Mi"}


def test_a_tenants_service_account_token_has_no_rights_in_another_tenants_namespace(kube_stack, kube, envtest):
    (_, first), (_, second) = signed_up(kube_stack), signed_up(kube_stack)
    settings = kube_settings(kube_stack)
    own, other = namespace_name(first["slug"], settings), namespace_name(second["slug"], settings)
    as_tenant = core_api_with_token(envtest, service_account_token(kube, own))
    for namespace in (other, own):  # no RoleBinding anywhere: not even its own namespace
        with pytest.raises(ApiException) as refused:
            as_tenant.list_namespaced_secret(namespace)
        assert refused.value.status == 403  # authenticated (a bad token is a 401), then refused
        assert f"system:serviceaccount:{own}:{FLOW_RUN_ACCOUNT}" in str(refused.value.body)
    assert admin_core_api(envtest).list_namespaced_secret(other).items  # the admin does see them


# --- the tenant's own pool ---------------------------------------------------------------------------------------


def test_a_dedicated_pools_jobs_cannot_be_sent_to_another_namespace(kube_stack, kube):
    _, tenant = signed_up(kube_stack)
    set_tier(kube_stack, tenant["slug"], "dedicated")
    pool = pool_name(tenant["slug"])
    assert work_pool(kube_stack, tenant["slug"]).type == "kubernetes"
    prefect = prefect_http(kube_stack)
    flow_id = prefect.post("/flows/", json={"name": "graph-interpreter"}).json()["id"]

    def deployment(job_variables: dict) -> httpx.Response:
        name = f"{pool}-probe-{uuid.uuid4().hex[:6]}"
        body = {"name": name, "flow_id": flow_id, "work_pool_name": pool, "job_variables": job_variables}
        return prefect.post("/deployments/", json=body)

    assert deployment({"namespace": "default"}).status_code == 422
    accepted = deployment({"env": {"TRACE": "1"}})
    assert accepted.status_code in (200, 201), accepted.text
    deployment_id = accepted.json()["id"]
    run = prefect.post(f"/deployments/{deployment_id}/create_flow_run", json={"job_variables": {"namespace": "x"}})
    assert run.status_code == 422
    assert prefect.post(f"/deployments/{deployment_id}/create_flow_run", json={}).status_code == 201
    # Prefect 3.9.1 stores an update of the deployment's job_variables unchecked, but then refuses every flow
    # run of it: the namespace never reaches a worker.
    patched = prefect.patch(f"/deployments/{deployment_id}", json={"job_variables": {"namespace": "default"}})
    assert patched.status_code == 204
    assert prefect.post(f"/deployments/{deployment_id}/create_flow_run", json={}).status_code == 422
    prefect.delete(f"/deployments/{deployment_id}")


class KubernetesWorker(WorkerProcess):
    """`prefect worker start --type kubernetes` on the tenant's pool, watching only its namespace."""

    def __init__(self, stack, pool: str, namespace: str, kubeconfig: str) -> None:
        argv = [sys.executable, "-m", "prefect", "worker", "start", "--pool", pool, "--type", "kubernetes"]
        env = {
            "PREFECT_API_AUTH_STRING": stack.auth_string,
            "KUBECONFIG": kubeconfig,
            "PREFECT_INTEGRATIONS_KUBERNETES_OBSERVER_NAMESPACES": namespace,
            "PREFECT_WORKER_QUERY_SECONDS": "1",
        }
        self._start(stack, pool, [*argv, "--install-policy", "never"], env)


def test_prefects_kubernetes_worker_runs_the_tenants_batch_in_its_namespace_through_the_batch_door(
    kube_stack, kube, envtest, kubelet, minimal_graph
):
    """A run of a dedicated workspace, end to end: the dispatcher mints its batch's token into a Secret of the
    tenant's namespace, Prefect's Kubernetes worker creates the Job there, the stand-in kubelet runs `prefect
    flow-run execute` with the pod's environment alone (no database URL), and the interpreter runs the batch
    through the platform API's batch door: the user sees the run completed, step by step."""
    api, tenant = signed_up(kube_stack)
    set_tier(kube_stack, tenant["slug"], "dedicated")
    pool, namespace = pool_name(tenant["slug"]), namespace_name(tenant["slug"], kube_settings(kube_stack))
    workflow_id = publish(api, "published", minimal_graph)  # the platform puts the tenant's deployments on its pool
    assert {d.work_pool_name for d in tenant_deployments(kube_stack, tenant["id"])} == {pool}
    run_id = start_run(api, workflow_id, {"name": "k8s"})
    batch = wait_until(lambda: submitted_batch(kube_stack, run_id), timeout=60, what="the dispatcher to submit")
    token_secret = read(kube, "Secret", f"flowyard-batch-{batch.id}", namespace)
    assert token_secret is not None and set(token_secret["data"]) == {"token"}
    token = base64.b64decode(token_secret["data"]["token"]).decode()
    assert batch.door_token_sha256 == hashlib.sha256(token.encode()).hexdigest()
    with prefect_client(kube_stack) as client:  # Prefect holds the Secret's name, never the token
        flow_run = client.read_flow_run(uuid.UUID(batch.flow_run_id))
    assert flow_run.job_variables == {"batch_secret": f"flowyard-batch-{batch.id}"}
    assert token not in flow_run.model_dump_json()

    worker = KubernetesWorker(kube_stack, pool, namespace, envtest.kubeconfig)
    try:
        jobs = kube.resources.get(api_version="batch/v1", kind="Job")
        selector = f"prefect.io/flow-run-id={batch.flow_run_id}"
        job = wait_until(
            lambda: jobs.get(label_selector=selector).to_dict()["items"],
            timeout=120,
            what=f"the flow run's Job\n{worker.log_tail()}",
        )
        assert [j["metadata"]["namespace"] for j in job] == [namespace]  # and in no other namespace
        spec = job[0]["spec"]["template"]["spec"]
        assert spec["serviceAccountName"] == FLOW_RUN_ACCOUNT and spec["automountServiceAccountToken"] is False
        container = spec["containers"][0]
        env = {e["name"]: e for e in container["env"]}
        assert env["FLOWYARD_BATCH_DOOR__TOKEN"]["valueFrom"]["secretKeyRef"]["name"] == f"flowyard-batch-{batch.id}"
        assert not {"FLOWYARD_DATABASE_URL", "FLOWYARD_MASTER_KEY"} & set(env)
        assert container["resources"]["limits"] == {"cpu": "1", "memory": "1Gi"}
        run = api.wait_for_run(run_id, timeout=180)
        assert run["status"] == "completed", f"{run}\n{pod_logs(kubelet, namespace)}"
        assert [s["node_id"] for s in run["steps"]] == ["start", "say"]
        done = wait_until(  # its pod was admitted under the quota and ran: the Job completed
            lambda: (read(kube, "Job", job[0]["metadata"]["name"], namespace, "batch/v1") or {})["status"].get(
                "succeeded"
            ),
            timeout=120,
            what="the Job to complete",
        )
        assert done == 1
    finally:
        worker.stop()
    assert submitted_batch(kube_stack, run_id).door_token_sha256 is None  # the batch ended: its token opens nothing
    closed = flowyard(kube_stack, "kube", "reconcile")
    assert closed.returncode == 0, closed.stdout + closed.stderr
    assert read(kube, "Secret", f"flowyard-batch-{batch.id}", namespace) is None


def submitted_batch(stack, run_id: str) -> Batch | None:
    """The run's batch, once the dispatcher has created its flow run."""
    with get_session_factory(platform_db_url(stack))() as db:
        batch = db.scalar(select(Batch).join(Execution, Execution.batch_id == Batch.id).where(Execution.id == run_id))
        return batch if batch is not None and batch.flow_run_id else None


def pod_logs(directory: Path, namespace: str) -> str:
    return "\n".join(f.read_text()[-3000:] for f in sorted(directory.glob(f"{namespace}_*.log")))


# --- reconciling, tiers, deletion ---------------------------------------------------------------------------------


def test_reconciling_again_changes_nothing_and_a_deleted_policy_comes_back(kube_stack, kube):
    _, tenant = signed_up(kube_stack)
    namespace = namespace_name(tenant["slug"], kube_settings(kube_stack))
    versions = {key: obj["metadata"]["resourceVersion"] for key, obj in managed(kube, namespace).items()}

    again = flowyard(kube_stack, "kube", "reconcile", "--tenant", tenant["slug"])
    assert again.returncode == 0 and f"{tenant['slug']}: in step" in again.stdout, again.stdout + again.stderr
    assert {key: obj["metadata"]["resourceVersion"] for key, obj in managed(kube, namespace).items()} == versions

    policies = kube.resources.get(api_version="networking.k8s.io/v1", kind="NetworkPolicy")
    policies.delete(name="default-deny", namespace=namespace)
    repaired = flowyard(kube_stack, "kube", "reconcile", "--tenant", tenant["slug"])
    assert "created NetworkPolicy/default-deny" in repaired.stdout, repaired.stdout + repaired.stderr
    restored = read(kube, "NetworkPolicy", "default-deny", namespace, "networking.k8s.io/v1")
    assert restored is not None and restored["spec"]["policyTypes"] == ["Ingress", "Egress"]


def test_changing_the_tier_changes_the_quota_and_where_the_deployments_run(kube_stack, kube, minimal_graph):
    api, tenant = signed_up(kube_stack)
    slug, namespace = tenant["slug"], namespace_name(tenant["slug"], kube_settings(kube_stack))
    publish(api, "tiered", minimal_graph)
    assert quota_pods(kube, namespace) == "4"
    assert {d.work_pool_name for d in tenant_deployments(kube_stack, tenant["id"])} == {"flowyard"}

    moved = set_tier(kube_stack, slug, "dedicated")
    assert f"created pool/{pool_name(slug)}" in moved and "ResourceQuota/flowyard-tenant" in moved
    assert quota_pods(kube, namespace) == "20"
    assert read(kube, "Namespace", namespace)["metadata"]["labels"]["flowyard.io/tier"] == "dedicated"  # type: ignore[index]
    assert {d.work_pool_name for d in tenant_deployments(kube_stack, tenant["id"])} == {pool_name(slug)}

    set_tier(kube_stack, slug, "shared")
    assert quota_pods(kube, namespace) == "4"
    assert {d.work_pool_name for d in tenant_deployments(kube_stack, tenant["id"])} == {"flowyard"}
    assert work_pool(kube_stack, slug) is None
    unknown = flowyard(kube_stack, "tenants", "tier", slug, "gold")
    assert unknown.returncode == 2 and "no tier 'gold'" in unknown.stdout


def test_deleting_the_workspace_removes_its_namespace_and_pool(kube_stack, kube):
    api, tenant = signed_up(kube_stack)
    set_tier(kube_stack, tenant["slug"], "dedicated")
    namespace = namespace_name(tenant["slug"], kube_settings(kube_stack))
    assert work_pool(kube_stack, tenant["slug"]) is not None

    deleted = api.request("DELETE", "/api/v1/tenant", json={"confirm": tenant["slug"]})
    assert deleted.status_code == 204, deleted.text
    assert work_pool(kube_stack, tenant["slug"]) is None
    wait_until(lambda: read(kube, "Namespace", namespace) is None, timeout=120, what="the namespace to go")


def test_the_hourly_maintenance_flow_repairs_drift_and_removes_namespaces_of_deleted_workspaces(kube_stack, kube):
    _, tenant = signed_up(kube_stack)
    settings = kube_settings(kube_stack)
    namespace = namespace_name(tenant["slug"], settings)
    kube.resources.get(api_version="networking.k8s.io/v1", kind="NetworkPolicy").delete(
        name="allow-prefect-api", namespace=namespace
    )
    # a workspace deleted while the cluster was unreachable left its namespace behind; another platform's is not ours
    orphan, foreign = f"gone-{uuid.uuid4().hex[:6]}", KubernetesSettings(namespace_prefix="other-platform-")
    for prefix_settings in (settings, foreign):
        for obj in tenant_objects(str(uuid.uuid4()), orphan, "shared", prefix_settings)[:1]:
            kube.resources.get(api_version="v1", kind="Namespace").create(body=obj)

    code = "import asyncio, json; from engine.maintenance import flowyard_maintenance as f; print(json.dumps(asyncio.run(f())))"
    env = {**kube_stack.env, "PREFECT_API_URL": kube_stack.prefect_url}
    ran = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300)
    assert ran.returncode == 0, ran.stdout + ran.stderr
    totals = json.loads(ran.stdout.strip().splitlines()[-1])
    assert totals["kubernetes_failed"] == 0 and totals["kubernetes_repaired"] >= 1
    assert read(kube, "NetworkPolicy", "allow-prefect-api", namespace, "networking.k8s.io/v1") is not None
    gone = read(kube, "Namespace", namespace_name(orphan, settings))
    assert gone is None or gone["status"]["phase"] == "Terminating"
    assert read(kube, "Namespace", namespace_name(orphan, foreign))["status"]["phase"] == "Active"  # type: ignore[index]
