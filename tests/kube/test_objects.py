"""A tenant's Kubernetes objects as rendered, offline: valid for Kubernetes 1.33 (strict), sized by the tier, and
holding nothing the tenant's pods must not have."""

from __future__ import annotations

import asyncio
import base64
import copy
import uuid

import kubernetes_validate
import pytest
from prefect_kubernetes.worker import KubernetesWorkerJobConfiguration

from core.settings import KubernetesSettings, Settings
from engine.kube.objects import (
    namespace_name,
    pool_name,
    public_ip_blocks,
    tenant_objects,
    work_pool_template,
)

KUBERNETES = "1.33"
TENANT_ID = "0b1c6a4e-1111-2222-3333-444455556666"


@pytest.fixture
def settings() -> KubernetesSettings:
    return Settings().kubernetes


def by_kind(objects: list[dict]) -> dict[str, list[dict]]:
    kinds: dict[str, list[dict]] = {}
    for obj in objects:
        kinds.setdefault(obj["kind"], []).append(obj)
    return kinds


def job_manifest(template: dict, values: dict) -> dict:
    configuration = asyncio.run(KubernetesWorkerJobConfiguration.from_template_and_values(template, values))
    return configuration.job_manifest


@pytest.mark.parametrize("tier", ["shared", "dedicated"])
def test_every_object_is_valid_and_lives_in_the_tenants_namespace(settings, tier):
    objects = tenant_objects(TENANT_ID, "acme", tier, settings, prefect_auth_string="user:pass")
    for obj in objects:
        kubernetes_validate.validate(obj, KUBERNETES, strict=True)
    assert [o["metadata"]["name"] for o in objects if o["kind"] == "Namespace"] == ["flowyard-t-acme"]
    assert {o["metadata"].get("namespace", "flowyard-t-acme") for o in objects} == {"flowyard-t-acme"}
    assert namespace_name("acme", settings) == "flowyard-t-acme" and pool_name("acme") == "t-acme"


def test_the_namespace_enforces_the_restricted_profile_and_names_its_tenant(settings):
    namespace = by_kind(tenant_objects(TENANT_ID, "acme", "dedicated", settings))["Namespace"][0]
    labels = namespace["metadata"]["labels"]
    for mode in ("enforce", "audit", "warn"):
        assert labels[f"pod-security.kubernetes.io/{mode}"] == "restricted"
        assert labels[f"pod-security.kubernetes.io/{mode}-version"].startswith("v1.")
    assert labels["flowyard.io/tenant-id"] == TENANT_ID and labels["flowyard.io/tier"] == "dedicated"


def test_quota_and_container_limits_follow_the_tier(settings):
    shared, dedicated = (by_kind(tenant_objects(TENANT_ID, "acme", t, settings)) for t in ("shared", "dedicated"))
    assert shared["ResourceQuota"][0]["spec"]["hard"] == {
        "requests.cpu": "1",
        "limits.cpu": "1",
        "requests.memory": "1Gi",
        "limits.memory": "1Gi",
        "pods": "4",
        "count/jobs.batch": "20",
    }
    assert dedicated["ResourceQuota"][0]["spec"]["hard"]["pods"] == "20"
    limits = dedicated["LimitRange"][0]["spec"]["limits"][0]
    assert limits["defaultRequest"] == {"cpu": "250m", "memory": "256Mi"}
    assert limits["default"] == limits["max"] == {"cpu": "1", "memory": "1Gi"}
    with pytest.raises(ValueError, match="unknown tier"):
        tenant_objects(TENANT_ID, "acme", "gold", settings)


def test_network_policies_deny_all_then_allow_dns_prefect_the_platform_api_and_public_addresses(settings):
    policies = {
        p["metadata"]["name"]: p["spec"]
        for p in by_kind(tenant_objects(TENANT_ID, "a", "shared", settings))["NetworkPolicy"]
    }
    assert policies["default-deny"] == {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}
    assert all("ingress" not in spec for spec in policies.values())  # nothing may connect to a tenant's pods
    assert policies["allow-dns"]["egress"][0]["ports"] == [
        {"protocol": "UDP", "port": 53},
        {"protocol": "TCP", "port": 53},
    ]
    prefect = policies["allow-prefect-api"]["egress"][0]
    assert prefect["ports"] == [{"protocol": "TCP", "port": 4200}]
    assert prefect["to"][0]["namespaceSelector"]["matchLabels"] == {"kubernetes.io/metadata.name": "flowyard"}
    platform = policies["allow-platform-api"]["egress"][0]  # the batch door
    assert platform["ports"] == [{"protocol": "TCP", "port": 8000}]
    assert platform["to"] == [
        {
            "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "flowyard"}},
            "podSelector": {"matchLabels": {"app.kubernetes.io/name": "platform-api"}},
        }
    ]
    public = policies["allow-public-egress"]["egress"][0]["to"]
    assert public == [
        {
            "ipBlock": {
                "cidr": "0.0.0.0/0",
                "except": ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "169.254.0.0/16", "100.64.0.0/10"],
            }
        }
    ]


def test_private_ranges_are_cut_out_of_every_allowed_cidr():
    assert public_ip_blocks(["10.1.0.0/16", "192.168.4.0/24"]) == []  # inside private ranges: nothing allowed
    assert public_ip_blocks(["172.0.0.0/8", "8.8.8.0/24"]) == [
        {"ipBlock": {"cidr": "172.0.0.0/8", "except": ["172.16.0.0/12"]}},
        {"ipBlock": {"cidr": "8.8.8.0/24"}},
    ]
    assert public_ip_blocks(["::/0"]) == [{"ipBlock": {"cidr": "::/0", "except": ["fc00::/7", "fe80::/10"]}}]


def test_no_egress_cidrs_means_no_public_egress_policy(settings):
    closed = settings.model_copy(update={"egress_cidrs": []})
    names = [o["metadata"]["name"] for o in tenant_objects(TENANT_ID, "a", "shared", closed)]
    assert "allow-public-egress" not in names and "default-deny" in names


def test_the_flow_run_account_has_no_token_and_the_secret_only_reaches_prefect_and_the_door(settings, monkeypatch):
    kinds = by_kind(tenant_objects(TENANT_ID, "acme", "shared", settings, prefect_auth_string="user:pass"))
    assert kinds["ServiceAccount"][0]["automountServiceAccountToken"] is False
    assert "RoleBinding" not in kinds and "Role" not in kinds
    data = {k: base64.b64decode(v).decode() for k, v in kinds["Secret"][0]["data"].items()}
    assert data == {
        "PREFECT_API_URL": "http://prefect-server.flowyard.svc:4200/api",
        "PREFECT_API_AUTH_STRING": "user:pass",
        "FLOWYARD_BATCH_DOOR__URL": "http://platform-api.flowyard.svc:8000",  # its batch's token is a Secret apart
    }


def test_a_shared_tier_tenant_has_no_pool_of_its_own(settings):
    assert work_pool_template("acme", "shared", settings) is None


def test_the_pool_template_pins_namespace_account_image_and_resources(settings):
    template = work_pool_template("acme", "dedicated", settings)
    assert template is not None
    variables = template["variables"]
    assert variables["additionalProperties"] is False
    for fixed in ("namespace", "service_account_name", "image", "cpu_limit", "memory_limit", "cluster_config"):
        assert fixed not in variables["properties"]
    # even a caller who set every variable it may set gets a Job in the tenant's namespace, as the tenant's account
    batch_secret = f"flowyard-batch-{uuid.uuid4()}"
    values = {"name": "run", "labels": {"a": "b"}, "backoff_limit": 2, "batch_secret": batch_secret}
    manifest = job_manifest(template, values)
    assert manifest["metadata"]["namespace"] == "flowyard-t-acme"
    assert template["job_configuration"]["namespace"] == "flowyard-t-acme"
    pod = copy.deepcopy(manifest["spec"]["template"]["spec"])
    assert (pod.pop("parallelism"), pod.pop("completions")) == (1, 1)  # Prefect's own, dropped by Kubernetes
    kubernetes_validate.validate(
        {**manifest, "spec": {**manifest["spec"], "template": {"spec": pod}}}, KUBERNETES, strict=True
    )
    assert pod["serviceAccountName"] == "flowyard-flow-run" and pod["automountServiceAccountToken"] is False
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    container = pod["containers"][0]
    assert container["securityContext"]["capabilities"] == {"drop": ["ALL"]}
    assert container["securityContext"]["allowPrivilegeEscalation"] is False
    assert container["resources"] == {
        "requests": {"cpu": "250m", "memory": "256Mi"},
        "limits": {"cpu": "1", "memory": "1Gi"},
    }
    secrets = {e["name"]: e["valueFrom"]["secretKeyRef"] for e in container["env"]}  # each key named, no envFrom
    assert secrets == {
        "PREFECT_API_URL": {"name": "flowyard-flow-run", "key": "PREFECT_API_URL"},
        "PREFECT_API_AUTH_STRING": {"name": "flowyard-flow-run", "key": "PREFECT_API_AUTH_STRING", "optional": True},
        "FLOWYARD_BATCH_DOOR__URL": {"name": "flowyard-flow-run", "key": "FLOWYARD_BATCH_DOOR__URL"},
        "FLOWYARD_BATCH_DOOR__TOKEN": {"name": batch_secret, "key": "token", "optional": True},
    }
    assert "envFrom" not in container
    assert container["image"] == settings.image
    assert manifest["spec"]["ttlSecondsAfterFinished"] == 3600
