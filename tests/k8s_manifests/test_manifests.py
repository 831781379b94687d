"""The platform's Kubernetes manifests, as `kubectl kustomize k8s/overlays/<name>` builds them (offline): valid
objects of Kubernetes 1.33 and of the newest version kubernetes-validate knows, KEDA objects valid against KEDA's
own CRD schemas (k8s/schemas), and what an operator would notice: production brings no database of its own and
reaches PostgreSQL with a verified certificate, HTTPS at the Ingress for the API's public URL, pods the
"restricted" Pod Security profile admits, settings that Flowyard and Prefect really read, Secrets that exist, the
worker autoscaled on the backlog the API serves, and network policies that let exactly the right pods in."""

from __future__ import annotations

import importlib
import inspect
import os
import re
import shlex
import subprocess
import tomllib
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import jsonschema
import kubernetes_validate
import pytest
import yaml
from kubernetes_validate.utils import latest_version
from prefect.settings import Settings as PrefectSettings
from prefect.settings.legacy import _get_valid_setting_names
from pydantic import ValidationError
from sqlalchemy.engine import make_url

from core.settings import KubernetesSettings, Settings, settings_table
from engine.kube.objects import MANAGED_BY, TENANT_ID_LABEL
from platform_api.internal.schemas import Backlog

ROOT = Path(__file__).parents[2]
K8S = ROOT / "k8s"
OVERLAYS = ["dev", "prod"]
VERSIONS = ["1.33", ".".join(latest_version().split(".")[:2])]
WORKLOADS = {"Deployment", "StatefulSet", "Job"}
CRD_SCHEMAS = {
    "ScaledObject": "keda.sh_scaledobjects.yaml",
    "TriggerAuthentication": "keda.sh_triggerauthentications.yaml",
}
NOT_KUBERNETES = {"ExternalSecret"}  # external-secrets.io: checked by test_every_secret_the_pods_read_exists
FLOWYARD_IMAGE = "flowyard"
FLOWYARD_PODS = {"platform-api", "dispatcher", "flowyard-worker", "flowyard-migrations"}
PREFECT_PODS = {"prefect-server", "prefect-services", "prefect-migrations"}
# prefect-redis (in Prefect's image, not in Flowyard's venv): RedisMessagingSettings of prefect-redis 0.3.0
PREFECT_REDIS = {
    f"PREFECT_REDIS_MESSAGING_{field}"
    for field in ("URL", "HOST", "PORT", "DB", "USERNAME", "PASSWORD", "SSL", "HEALTH_CHECK_INTERVAL")
}
# Read by Prefect outside its settings (os.getenv), checked against its source below
PREFECT_READ_DIRECTLY = {"PREFECT_SERVER_ENCRYPTION_KEY": "prefect.server.utilities.encryption"}
# What the images themselves read (not settings of Flowyard or Prefect)
IMAGE_VARIABLES = {"HOME", "POSTGRES_DB", "POSTGRES_USER", "POSTGRES_PASSWORD", "PGDATA", "REDIS_PASSWORD"}
CERTIFICATE_FROM_CERT_MANAGER = "flowyard-tls"


@cache
def built(overlay: str) -> tuple[dict[str, Any], ...]:
    result = subprocess.run(
        ["kubectl", "kustomize", str(K8S / "overlays" / overlay)], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    return tuple(yaml.safe_load_all(result.stdout))


def of_kind(overlay: str, *kinds: str) -> list[dict[str, Any]]:
    return [obj for obj in built(overlay) if obj["kind"] in kinds]


def one(overlay: str, kind: str, name: str) -> dict[str, Any]:
    found = [obj for obj in of_kind(overlay, kind) if obj["metadata"]["name"] == name]
    assert len(found) == 1, f"{overlay}: expected one {kind} {name}"
    return found[0]


def pod_specs(overlay: str) -> dict[str, dict[str, Any]]:
    """Pod specs by workload name."""
    return {obj["metadata"]["name"]: obj["spec"]["template"]["spec"] for obj in of_kind(overlay, *WORKLOADS)}


def config_map(overlay: str, generated_name: str) -> dict[str, str]:
    """A ConfigMap by the name a manifest refers to (kustomize adds a hash to generated ones)."""
    return next(
        obj.get("data", {}) for obj in of_kind(overlay, "ConfigMap") if obj["metadata"]["name"] == generated_name
    )


def environment(overlay: str, container: dict[str, Any]) -> dict[str, str]:
    """A container's environment as the pod sees it: ConfigMaps named in envFrom, then its own env (which wins).
    Values from Secrets are `<secret:name/key>`; whole Secrets in envFrom are left out (see secret_keys)."""
    env: dict[str, str] = {}
    for source in container.get("envFrom", []):
        if "configMapRef" in source:
            env.update(config_map(overlay, source["configMapRef"]["name"]))
    for variable in container.get("env", []):
        ref = variable.get("valueFrom", {}).get("secretKeyRef")
        env[variable["name"]] = f"<secret:{ref['name']}/{ref['key']}>" if ref else variable["value"]
    return env


def secret_keys(overlay: str) -> dict[str, set[str]]:
    """The Secrets an overlay's pods get, with their keys: ExternalSecrets in prod, `kubectl create secret` commands
    of docs/kubernetes.md in dev."""
    if overlay == "prod":
        return {
            obj["spec"]["target"]["name"]: {item["secretKey"] for item in obj["spec"]["data"]}
            for obj in of_kind(overlay, "ExternalSecret")
        }
    return documented_dev_secrets()


def documented_dev_secrets() -> dict[str, set[str]]:
    text = (ROOT / "docs" / "kubernetes.md").read_text()
    secrets: dict[str, set[str]] = {}
    for command in re.findall(r"kubectl -n flowyard create secret generic .*?(?<!\\)\n", text, re.S):
        words = shlex.split(command.replace("\\\n", " "))
        name = words[words.index("generic") + 1]
        keys = {w.split("=", 2)[1] for w in words if w.startswith("--from-literal=") or w.startswith("--from-file=")}
        secrets[name] = keys
    return secrets


def flowyard_setting_names() -> set[str]:
    return {row.split("`")[1] for row in settings_table()}


# --- valid objects ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_object_is_valid_kubernetes(overlay, version):
    custom = set()
    for obj in built(overlay):
        try:
            kubernetes_validate.validate(obj, version, strict=True)
        except kubernetes_validate.SchemaNotFoundError:
            custom.add(obj["kind"])
    assert custom <= set(CRD_SCHEMAS) | NOT_KUBERNETES, f"no schema checks these kinds: {custom}"


def crd_schema(kind: str) -> dict[str, Any]:
    documents = yaml.safe_load_all((K8S / "schemas" / CRD_SCHEMAS[kind]).read_text())
    crd = next(d for d in documents if d)
    (version,) = [v for v in crd["spec"]["versions"] if v["served"] and v["storage"]]
    return without_kubernetes_extensions(version["schema"]["openAPIV3Schema"])


def without_kubernetes_extensions(schema: Any) -> Any:
    if isinstance(schema, dict):
        return {k: without_kubernetes_extensions(v) for k, v in schema.items() if not k.startswith("x-kubernetes-")}
    if isinstance(schema, list):
        return [without_kubernetes_extensions(v) for v in schema]
    return schema


def unknown_fields(value: Any, schema: dict[str, Any], path: str = "") -> list[str]:
    """Fields the schema does not declare: the API server prunes them from custom objects without a word."""
    if isinstance(value, list) and "items" in schema:
        return [f for i, item in enumerate(value) for f in unknown_fields(item, schema["items"], f"{path}[{i}]")]
    if not isinstance(value, dict) or "properties" not in schema:
        return []
    found = []
    for key, item in value.items():
        if key not in schema["properties"]:
            found.append(f"{path}.{key}")
        else:
            found += unknown_fields(item, schema["properties"][key], f"{path}.{key}")
    return found


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_keda_objects_are_valid_against_kedas_crds(overlay):
    checked = []
    for kind in CRD_SCHEMAS:
        schema = crd_schema(kind)
        for obj in of_kind(overlay, kind):
            jsonschema.validate(obj, schema)
            assert not unknown_fields(obj["spec"], schema["properties"]["spec"], "spec")
            checked.append(kind)
    assert sorted(checked) == ["ScaledObject", "TriggerAuthentication"]
    for scaled in of_kind(overlay, "ScaledObject"):
        assert scaled["spec"]["scaleTargetRef"]["name"]
        assert all(trigger["type"] and trigger["metadata"] for trigger in scaled["spec"]["triggers"])


def test_the_crd_check_catches_a_misspelt_field():
    scaled = one("prod", "ScaledObject", "flowyard-worker")
    spec = {**scaled["spec"], "minReplicas": 1}  # the HPA's word, not KEDA's
    assert unknown_fields(spec, crd_schema("ScaledObject")["properties"]["spec"], "spec") == ["spec.minReplicas"]
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(
            {**scaled, "spec": {**scaled["spec"], "minReplicaCount": "one"}}, crd_schema("ScaledObject")
        )


# --- what runs where -------------------------------------------------------------------------------------------


def test_prod_brings_no_database_or_redis_and_dev_brings_both():
    def data_stores(overlay: str) -> set[str]:
        images = {c["image"].split(":")[0] for spec in pod_specs(overlay).values() for c in spec["containers"]}
        return images & {"postgres", "redis"}

    assert data_stores("prod") == set()
    assert not of_kind("prod", "StatefulSet", "PersistentVolumeClaim")
    assert data_stores("dev") == {"postgres", "redis"}


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_flowyard_runs_the_image_of_its_version_with_the_dispatcher_on_its_own(overlay):
    version = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    specs = pod_specs(overlay)
    for name in FLOWYARD_PODS:
        assert [c["image"] for c in specs[name]["containers"]] == [f"{FLOWYARD_IMAGE}:{version}"], name
    api = specs["platform-api"]["containers"][0]
    assert environment(overlay, api)["FLOWYARD_DISPATCHER__ENABLED"] == "false"
    assert specs["dispatcher"]["containers"][0]["command"] == ["flowyard", "dispatcher"]
    prefect = {c["image"] for name in PREFECT_PODS for c in specs[name]["containers"]}
    assert prefect == {"prefecthq/prefect:3.9.1-python3.11"}  # the Prefect Flowyard pins
    server = specs["prefect-server"]["containers"][0]["args"]
    assert server[:3] == ["prefect", "server", "start"] and "--no-services" in server
    assert specs["prefect-services"]["containers"][0]["args"] == ["prefect", "server", "services", "start"]
    assert specs["prefect-migrations"]["containers"][0]["args"] == ["prefect", "server", "database", "upgrade", "-y"]
    assert not [name for name in PREFECT_PODS for c in specs[name]["containers"] if "command" in c]
    assert one(overlay, "Deployment", "prefect-services")["spec"]["replicas"] == 1


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_several_prefect_api_replicas_share_redis(overlay):
    assert one(overlay, "Deployment", "prefect-server")["spec"]["replicas"] >= 2
    for name in PREFECT_PODS:
        env = environment(overlay, pod_specs(overlay)[name]["containers"][0])
        assert env["PREFECT_MESSAGING_BROKER"] == env["PREFECT_MESSAGING_CACHE"] == "prefect_redis.messaging"
        assert env["PREFECT_SERVER_EVENTS_CAUSAL_ORDERING"] == "prefect_redis.ordering"
        assert env["PREFECT_SERVER_CONCURRENCY_LEASE_STORAGE"] == "prefect_redis.lease_storage"
        assert env["PREFECT_SERVER_WORKER_CHANNEL_CLEANUP_QUEUE_STORAGE"] == "prefect_redis.cleanup_queue"
        assert env["PREFECT_SERVER_DATABASE_MIGRATE_ON_START"] == "false"  # the migrations Job does it
    assert {"PREFECT_REDIS_MESSAGING_URL", "PREFECT_SERVER_DOCKET_URL"} <= secret_keys(overlay)["prefect"]


# --- TLS -------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_ingress_serves_the_apis_public_url_over_https(overlay):
    (ingress,) = of_kind(overlay, "Ingress")
    hosts = {rule["host"] for rule in ingress["spec"]["rules"]}
    tls = ingress["spec"]["tls"]
    assert all(entry["secretName"] for entry in tls)
    assert hosts <= {host for entry in tls for host in entry["hosts"]}
    assert "cert-manager.io/cluster-issuer" in ingress["metadata"]["annotations"]
    public_url = environment(overlay, pod_specs(overlay)["platform-api"]["containers"][0])["FLOWYARD_API__PUBLIC_URL"]
    assert urlsplit(public_url).scheme == "https" and {urlsplit(public_url).hostname} == hosts
    backends = {p["backend"]["service"]["name"] for r in ingress["spec"]["rules"] for p in r["http"]["paths"]}
    assert backends == {"platform-api"}
    api = environment(overlay, pod_specs(overlay)["platform-api"]["containers"][0])
    assert api["FLOWYARD_API__METRICS_TOKEN"].startswith("<secret:")  # GET /metrics is open without a token


def settings_of(overlay: str, workload: str, monkeypatch, secrets: dict[str, str]) -> Settings:
    """The settings a Flowyard pod starts with: its environment, and what its Secret holds."""
    for name in list(os.environ):
        if name.startswith(("FLOWYARD_", "PREFECT_")):
            monkeypatch.delenv(name)
    env = environment(overlay, pod_specs(overlay)[workload]["containers"][0])
    for name, value in {**env, **secrets}.items():
        monkeypatch.setenv(name, secrets.get(name, value))
    return Settings()


PROD_SECRET = {  # the shape docs/kubernetes.md asks for: no sslrootcert in the URL, FLOWYARD_DATABASE_CA adds it
    "FLOWYARD_DATABASE_URL": "postgresql://flowyard:pw@db.example.com:5432/flowyard",
    "FLOWYARD_MASTER_KEY": "a2V5LWtleS1rZXkta2V5LWtleS1rZXkta2V5LWtleS0=",
    "PREFECT_API_AUTH_STRING": "flowyard:secret",
}


@pytest.mark.parametrize("workload", sorted(FLOWYARD_PODS))
def test_prod_flowyard_pods_start_in_production_with_a_verified_database(workload, monkeypatch):
    settings = settings_of("prod", workload, monkeypatch, PROD_SECRET)  # production refuses anything less
    assert settings.environment == "production"
    query = make_url(settings.platform_database_url).query
    assert query["sslmode"] == "verify-full"
    spec = pod_specs("prod")[workload]
    mounts = {m["mountPath"]: m["name"] for m in spec["containers"][0]["volumeMounts"]}
    ca = Path(query["sslrootcert"])
    secret_volumes = {v["name"]: v["secret"] for v in spec["volumes"] if "secret" in v}
    volume = secret_volumes[mounts[str(ca.parent)]]
    assert volume["secretName"] == "flowyard-db-ca" and ca.name in {i["path"] for i in volume["items"]}


def test_without_the_ca_a_production_pod_would_refuse_to_start(monkeypatch):
    """The base alone (no database-ca component) is what prod would be without it: refused."""
    with pytest.raises(ValidationError, match="sslmode"):
        settings_of("dev", "platform-api", monkeypatch, {**PROD_SECRET, "FLOWYARD_ENVIRONMENT": "production"})


def test_prod_prefect_reaches_its_database_over_verified_tls():
    for name in PREFECT_PODS:
        spec = pod_specs("prod")[name]
        env = environment("prod", spec["containers"][0])
        assert env["PREFECT_SERVER_DATABASE_SQLALCHEMY_CONNECT_ARGS_TLS_ENABLED"] == "true"
        assert env["PREFECT_SERVER_DATABASE_SQLALCHEMY_CONNECT_ARGS_TLS_CHECK_HOSTNAME"] == "true"
        mounted = {m["mountPath"] for m in spec["containers"][0]["volumeMounts"]}
        assert str(Path(env["PREFECT_SERVER_DATABASE_SQLALCHEMY_CONNECT_ARGS_TLS_CA_FILE"]).parent) in mounted


# --- pod security ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_pod_passes_the_restricted_profile_with_resources(overlay):
    (namespace,) = of_kind(overlay, "Namespace")
    assert namespace["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"
    accounts = {sa["metadata"]["name"]: sa for sa in of_kind(overlay, "ServiceAccount")}
    for name, spec in pod_specs(overlay).items():
        pod = spec.get("securityContext", {})
        assert not (spec.get("hostNetwork") or spec.get("hostPID") or spec.get("hostIPC")), name
        assert not [v for v in spec.get("volumes", []) if "hostPath" in v], name
        account = accounts.get(spec.get("serviceAccountName", ""), {})
        assert spec.get("automountServiceAccountToken", account.get("automountServiceAccountToken")) is False, name
        for container in spec["containers"] + spec.get("initContainers", []):
            own = container.get("securityContext", {})
            where = f"{name}/{container['name']}"
            assert own.get("runAsNonRoot", pod.get("runAsNonRoot")) is True, where
            uid = own.get("runAsUser", pod.get("runAsUser"))
            assert isinstance(uid, int) and uid > 0, where
            assert own.get("allowPrivilegeEscalation") is False, where
            assert own.get("capabilities") == {"drop": ["ALL"]}, where
            assert not own.get("privileged"), where
            assert own.get("seccompProfile", pod.get("seccompProfile")) == {"type": "RuntimeDefault"}, where
            resources = container["resources"]
            assert {"cpu", "memory"} <= set(resources["requests"]) and "memory" in resources["limits"], where


# --- settings and Secrets --------------------------------------------------------------------------------------


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_variable_is_a_setting_flowyard_or_prefect_reads(overlay):
    flowyard = flowyard_setting_names()
    prefect = _get_valid_setting_names(PrefectSettings) | PREFECT_REDIS | set(PREFECT_READ_DIRECTLY)
    for name, module in PREFECT_READ_DIRECTLY.items():
        assert f'"{name}"' in inspect.getsource(importlib.import_module(module))
    names = {
        name
        for spec in pod_specs(overlay).values()
        for container in spec["containers"]
        for name in environment(overlay, container)
    }
    names |= {key for keys in secret_keys(overlay).values() for key in keys if key.isupper()}
    unknown = {name for name in names if not (name in flowyard or name in prefect or name in IMAGE_VARIABLES)}
    assert not unknown, f"no program reads these (misspelt?): {sorted(unknown)}"
    assert {n for n in names if n.startswith("FLOWYARD_")} <= flowyard  # none hides behind IMAGE_VARIABLES


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_secret_the_pods_read_exists(overlay):
    provided = secret_keys(overlay)
    for name, spec in pod_specs(overlay).items():
        for container in spec["containers"]:
            for source in container.get("envFrom", []):
                if "secretRef" in source:
                    assert source["secretRef"]["name"] in provided, name
            for variable in container.get("env", []):
                ref = variable.get("valueFrom", {}).get("secretKeyRef")
                if ref:
                    assert ref["key"] in provided.get(ref["name"], set()), f"{name}: {ref}"
        for volume in spec.get("volumes", []):
            if "secret" in volume:
                keys = {item["key"] for item in volume["secret"].get("items", [])}
                assert keys <= provided.get(volume["secret"]["secretName"], set()), f"{name}: {volume}"
    for auth in of_kind(overlay, "TriggerAuthentication"):
        for ref in auth["spec"]["secretTargetRef"]:
            assert ref["key"] in provided.get(ref["name"], set())
    (ingress,) = of_kind(overlay, "Ingress")
    assert {entry["secretName"] for entry in ingress["spec"]["tls"]} == {CERTIFICATE_FROM_CERT_MANAGER}
    assert not of_kind(overlay, "Secret"), "no Secret (no value) in git"


# --- autoscaling -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_keda_scales_the_worker_on_the_backlog_the_api_serves(overlay):
    from platform_api.app import create_app

    (scaled,) = of_kind(overlay, "ScaledObject")
    target = one(overlay, "Deployment", scaled["spec"]["scaleTargetRef"]["name"])
    assert target["metadata"]["name"] == "flowyard-worker"
    assert scaled["spec"]["minReplicaCount"] >= 1  # cancellations and crash detection happen in a worker
    hpa_targets = {h["spec"]["scaleTargetRef"]["name"] for h in of_kind(overlay, "HorizontalPodAutoscaler")}
    assert "flowyard-worker" not in hpa_targets  # KEDA owns the worker's HPA

    (trigger,) = scaled["spec"]["triggers"]
    assert trigger["type"] == "metrics-api" and trigger["metadata"]["authMode"] == "bearer"
    url = urlsplit(trigger["metadata"]["url"])
    service = one(overlay, "Service", url.hostname.split(".")[0])
    assert url.hostname == f"{service['metadata']['name']}.{service['metadata']['namespace']}.svc"
    assert url.port in {port["port"] for port in service["spec"]["ports"]}
    assert service["spec"]["selector"] == {"app.kubernetes.io/name": "platform-api"}
    served = [p for p in create_app(Settings()).openapi()["paths"] if p.startswith("/internal/")]
    (template,) = [p for p in served if re.fullmatch(re.sub(r"\{\w+\}", "([^/]+)", p), url.path)]
    pool = re.fullmatch(re.sub(r"\{\w+\}", "([^/]+)", template), url.path).group(1)
    worker = target["spec"]["template"]["spec"]["containers"][0]
    assert environment(overlay, worker)["FLOWYARD_WORKER__WORK_POOL"] == pool
    assert trigger["metadata"]["valueLocation"] in Backlog.model_fields

    auth = one(overlay, "TriggerAuthentication", trigger["authenticationRef"]["name"])
    (token,) = [ref for ref in auth["spec"]["secretTargetRef"] if ref["parameter"] == "token"]
    api = environment(overlay, pod_specs(overlay)["platform-api"]["containers"][0])
    assert api["FLOWYARD_KUBERNETES__METRICS_TOKEN"] == f"<secret:{token['name']}/{token['key']}>"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_api_scales_on_cpu_probes_its_health_and_keeps_one_up(overlay):
    from platform_api.app import create_app

    hpa = one(overlay, "HorizontalPodAutoscaler", "platform-api")
    assert hpa["spec"]["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": "platform-api"}
    assert [m["resource"]["name"] for m in hpa["spec"]["metrics"]] == ["cpu"]
    assert "replicas" not in one(overlay, "Deployment", "platform-api")["spec"]  # the HPA sets it
    served = create_app(Settings()).openapi()["paths"]
    api = pod_specs(overlay)["platform-api"]["containers"][0]
    assert api["livenessProbe"]["httpGet"]["path"] == "/api/v1/health/live" in served
    assert api["readinessProbe"]["httpGet"]["path"] == "/api/v1/health/ready" in served
    pdb = one(overlay, "PodDisruptionBudget", "platform-api")
    assert (
        pdb["spec"]["selector"]["matchLabels"]
        == one(overlay, "Deployment", "platform-api")["spec"]["selector"]["matchLabels"]
    )
    assert pdb["spec"]["minAvailable"] < hpa["spec"]["minReplicas"]  # a node drain can still move one


# --- network policies ------------------------------------------------------------------------------------------


def allowed_pods(policy: dict[str, Any]) -> set[str]:
    names = set()
    for rule in policy["spec"].get("ingress", []):
        for peer in rule["from"]:
            if "podSelector" in peer and "namespaceSelector" not in peer:
                selector = peer["podSelector"]
                names |= {v for e in selector.get("matchExpressions", []) for v in e["values"]}
                names |= set(selector.get("matchLabels", {}).values())
    return names


def policy_for(overlay: str, app: str) -> dict[str, Any]:
    (policy,) = [
        p
        for p in of_kind(overlay, "NetworkPolicy")
        if p["spec"]["podSelector"].get("matchLabels") == {"app.kubernetes.io/name": app}
    ]
    return policy


def app_names(overlay: str) -> dict[str, str]:
    """Workload name -> its pods' app.kubernetes.io/name."""
    return {
        obj["metadata"]["name"]: obj["spec"]["template"]["metadata"]["labels"]["app.kubernetes.io/name"]
        for obj in of_kind(overlay, *WORKLOADS)
    }


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_only_the_platform_and_tenants_flow_runs_reach_prefect(overlay):
    defaults = [p for p in of_kind(overlay, "NetworkPolicy") if p["spec"]["podSelector"] == {}]
    assert [p["spec"].get("ingress") for p in defaults] == [None]  # everything else is refused
    prefect = policy_for(overlay, "prefect-server")
    assert allowed_pods(prefect) == {"platform-api", "dispatcher", "flowyard-worker", "prefect-services"}
    namespaces = [
        peer["namespaceSelector"]
        for rule in prefect["spec"]["ingress"]
        for peer in rule["from"]
        if "namespaceSelector" in peer
    ]
    (tenants,) = namespaces
    assert tenants["matchLabels"] == MANAGED_BY  # the labels engine.kube gives a tenant's namespace
    assert tenants["matchExpressions"] == [{"key": TENANT_ID_LABEL, "operator": "Exists"}]
    labels = one(overlay, "Deployment", "prefect-server")["spec"]["template"]["metadata"]["labels"]
    assert KubernetesSettings().prefect_api_pod_labels.items() <= labels.items()  # tenants' egress reaches these
    assert "podSelector" not in str(policy_for(overlay, "platform-api")["spec"]["ingress"])  # no pod of ours calls it


def test_dev_databases_take_connections_only_from_their_clients():
    apps = app_names("dev")
    users_of_postgres = {apps[name] for name in FLOWYARD_PODS | PREFECT_PODS}
    assert allowed_pods(policy_for("dev", "postgres")) == users_of_postgres
    assert allowed_pods(policy_for("dev", "redis")) == {"prefect-server", "prefect-services"}
    assert not [p for p in of_kind("prod", "NetworkPolicy") if p["metadata"]["name"] in {"postgres", "redis"}]
