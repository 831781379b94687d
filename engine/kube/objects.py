"""What a tenant gets on Kubernetes, rendered as plain manifests (dicts), without touching a cluster.

Per tenant: a namespace under the `restricted` Pod Security profile, a ResourceQuota and a LimitRange from its
tier, NetworkPolicies (deny everything, then allow DNS, the Prefect API and public addresses), a flow-run
ServiceAccount with no token and no rights, and a Secret with what its Jobs need to reach Prefect. A tier with
`dedicated_pool` also gets a Prefect work pool of its own (`work_pool_template`) whose Jobs are pinned to that
namespace. `engine.kube.reconcile` applies these; the 1,000-tenant simulation renders them as they are.
"""

from __future__ import annotations

import base64
import copy
import ipaddress
from typing import Any

from prefect_kubernetes.worker import KubernetesWorker

from core.naming import tenant_prefix
from core.settings import KubernetesSettings, TierSettings

MANAGED_BY = {"app.kubernetes.io/managed-by": "flowyard"}
TENANT_ID_LABEL = "flowyard.io/tenant-id"
TENANT_SLUG_LABEL = "flowyard.io/tenant-slug"
TIER_LABEL = "flowyard.io/tier"
POD_SECURITY_VERSION = "v1.33"
FLOW_RUN_ACCOUNT = "flowyard-flow-run"  # the ServiceAccount and the Secret of a tenant's flow-run pods
RUN_AS_USER = 10001  # the Flowyard image's user; the restricted profile needs a non-root uid
FINISHED_JOB_TTL = 3600  # seconds a finished Job is kept (Prefect's default keeps it forever)
PREFECT_API_PORT = 4200
PLATFORM_API_PORT = 8000
BATCH_SECRET_VARIABLE = "batch_secret"  # the job variable naming a flow run's batch-token Secret
NO_BATCH_SECRET = "flowyard-no-batch"  # its default: no Secret of that name exists, and the token is optional
Manifest = dict[str, Any]  # a Kubernetes object, or part of one, as JSON
PRIVATE_RANGES = tuple(
    ipaddress.ip_network(cidr)
    for cidr in (
        *("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "169.254.0.0/16", "100.64.0.0/10"),
        *("fc00::/7", "fe80::/10"),  # IPv6 unique-local and link-local
    )
)
# Job variables a Flowyard deployment or flow run may set on a tenant's pool; anything else (the namespace,
# the image, the service account, resources) is fixed by the template and refused by Prefect with 422.
OPEN_VARIABLES = (
    "name",
    "env",
    "labels",
    "annotations",
    "command",
    "backoff_limit",
    "job_watch_timeout_seconds",
    "pod_watch_timeout_seconds",
    "stream_output",
)


def namespace_name(slug: str, settings: KubernetesSettings) -> str:
    return f"{settings.namespace_prefix}{slug}"


def pool_name(slug: str) -> str:
    """The tenant's own work pool: `t-<slug>`, like its work queue in the shared pool."""
    return tenant_prefix(slug)


def prefect_api_url(settings: KubernetesSettings) -> str:
    return settings.prefect_api_url or f"http://prefect-server.{settings.platform_namespace}.svc:{PREFECT_API_PORT}/api"


def platform_api_url(settings: KubernetesSettings) -> str:
    return settings.platform_api_url or f"http://platform-api.{settings.platform_namespace}.svc:{PLATFORM_API_PORT}"


def batch_secret_name(batch_id: str) -> str:
    return f"flowyard-batch-{batch_id}"


def tier_of(tier: str, settings: KubernetesSettings) -> TierSettings:
    try:
        return settings.tiers[tier]
    except KeyError:
        raise ValueError(f"unknown tier {tier!r}; the tiers are {sorted(settings.tiers)}") from None


def tenant_objects(
    tenant_id: str,
    slug: str,
    tier: str,
    settings: KubernetesSettings,
    *,
    prefect_auth_string: str | None = None,
) -> list[Manifest]:
    """Every object of the tenant's namespace, the namespace first. `prefect_auth_string`: the Prefect API's
    auth string for the tenant's Secret (the reconciler passes it; without it the Secret holds the URL only)."""
    limits = tier_of(tier, settings)
    namespace = namespace_name(slug, settings)
    labels = {**MANAGED_BY, TENANT_ID_LABEL: tenant_id, TENANT_SLUG_LABEL: slug}
    return [
        namespace_object(namespace, {**labels, TIER_LABEL: tier}),
        resource_quota(namespace, labels, limits),
        limit_range(namespace, labels, limits),
        *network_policies(namespace, labels, settings),
        service_account(namespace, labels),
        flow_run_secret(namespace, labels, settings, prefect_auth_string),
    ]


def _metadata(name: str, namespace: str, labels: dict[str, str]) -> Manifest:
    return {"name": name, "namespace": namespace, "labels": dict(labels)}


def namespace_object(namespace: str, labels: dict[str, str]) -> Manifest:
    pod_security = {}
    for mode in ("enforce", "audit", "warn"):
        pod_security[f"pod-security.kubernetes.io/{mode}"] = "restricted"
        pod_security[f"pod-security.kubernetes.io/{mode}-version"] = POD_SECURITY_VERSION
    return {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {"name": namespace, "labels": {**labels, **pod_security}},
    }


def resource_quota(namespace: str, labels: dict[str, str], tier: TierSettings) -> Manifest:
    return {
        "apiVersion": "v1",
        "kind": "ResourceQuota",
        "metadata": _metadata("flowyard-tenant", namespace, labels),
        "spec": {
            "hard": {
                "requests.cpu": tier.quota_cpu,
                "limits.cpu": tier.quota_cpu,
                "requests.memory": tier.quota_memory,
                "limits.memory": tier.quota_memory,
                "pods": str(tier.quota_pods),
                "count/jobs.batch": str(tier.quota_jobs),
            }
        },
    }


def limit_range(namespace: str, labels: dict[str, str], tier: TierSettings) -> Manifest:
    """Defaults for containers that declare no resources (the quota refuses a pod without them)."""
    limit = {"cpu": tier.cpu_limit, "memory": tier.memory_limit}
    return {
        "apiVersion": "v1",
        "kind": "LimitRange",
        "metadata": _metadata("flowyard-tenant", namespace, labels),
        "spec": {
            "limits": [
                {
                    "type": "Container",
                    "defaultRequest": {"cpu": tier.cpu_request, "memory": tier.memory_request},
                    "default": dict(limit),
                    "max": dict(limit),
                }
            ]
        },
    }


def network_policies(namespace: str, labels: dict[str, str], settings: KubernetesSettings) -> list[Manifest]:
    """Deny all traffic in and out, then allow egress to DNS, the Prefect API, the platform API (the batch door)
    and public addresses only."""

    def policy(name: str, spec: Manifest) -> Manifest:
        return {
            "apiVersion": "networking.k8s.io/v1",
            "kind": "NetworkPolicy",
            "metadata": _metadata(name, namespace, labels),
            "spec": {"podSelector": {}, **spec},
        }

    prefect_api = _platform_pods_egress(settings, settings.prefect_api_pod_labels, PREFECT_API_PORT)
    platform_api = _platform_pods_egress(settings, settings.platform_api_pod_labels, PLATFORM_API_PORT)
    policies = [
        policy("default-deny", {"policyTypes": ["Ingress", "Egress"]}),
        policy("allow-dns", {"policyTypes": ["Egress"], "egress": [_dns_egress()]}),
        policy("allow-prefect-api", {"policyTypes": ["Egress"], "egress": [prefect_api]}),
        policy("allow-platform-api", {"policyTypes": ["Egress"], "egress": [platform_api]}),
    ]
    if blocks := public_ip_blocks(settings.egress_cidrs):
        policies.append(
            policy("allow-public-egress", {"policyTypes": ["Egress"], "egress": [{"to": blocks}]}),
        )
    return policies


def _dns_egress() -> Manifest:
    return {
        "to": [
            {
                "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}},
                "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}},
            }
        ],
        "ports": [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}],
    }


def _platform_pods_egress(settings: KubernetesSettings, pod_labels: dict[str, str], port: int) -> Manifest:
    """To the pods with these labels in the platform namespace, on this port only."""
    return {
        "to": [
            {
                "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": settings.platform_namespace}},
                "podSelector": {"matchLabels": dict(pod_labels)},
            }
        ],
        "ports": [{"protocol": "TCP", "port": port}],
    }


def public_ip_blocks(cidrs: list[str]) -> list[Manifest]:
    """`ipBlock`s of the allowed CIDRs with the private ranges inside them cut out; a CIDR that lies inside a
    private range allows nothing and is dropped."""
    blocks = []
    for cidr in cidrs:
        network = ipaddress.ip_network(cidr, strict=False)
        private = [r for r in PRIVATE_RANGES if r.version == network.version]
        if any(network.subnet_of(r) for r in private):  # type: ignore[arg-type]
            continue
        inside = [str(r) for r in private if r.subnet_of(network)]  # type: ignore[arg-type]
        blocks.append({"ipBlock": {"cidr": str(network), **({"except": inside} if inside else {})}})
    return blocks


def service_account(namespace: str, labels: dict[str, str]) -> Manifest:
    """The flow-run pods' identity: no token mounted and no RoleBinding, so no Kubernetes API rights."""
    return {
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": _metadata(FLOW_RUN_ACCOUNT, namespace, labels),
        "automountServiceAccountToken": False,
    }


def flow_run_secret(
    namespace: str, labels: dict[str, str], settings: KubernetesSettings, prefect_auth_string: str | None
) -> Manifest:
    """What a tenant's flow-run pod needs to report to Prefect and to reach its batch through the platform API,
    and nothing more: never the master key or the platform database's URL. (Each batch's token is a Secret of
    its own: `engine.kube.doors`.)"""
    values = {"PREFECT_API_URL": prefect_api_url(settings), "FLOWYARD_BATCH_DOOR__URL": platform_api_url(settings)}
    if prefect_auth_string:
        values["PREFECT_API_AUTH_STRING"] = prefect_auth_string
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": _metadata(FLOW_RUN_ACCOUNT, namespace, labels),
        "type": "Opaque",
        "data": {key: base64.b64encode(value.encode()).decode() for key, value in values.items()},
    }


def work_pool_template(slug: str, tier: str, settings: KubernetesSettings) -> Manifest | None:
    """The base job template of the tenant's own Kubernetes work pool, or None when its tier runs on the shared
    pool. The namespace, service account, image, resources and security context are written into the Job
    manifest, not offered as variables, and the variables schema refuses any other key: a deployment or flow
    run whose job_variables name `namespace` gets 422 from Prefect."""
    limits = tier_of(tier, settings)
    if not limits.dedicated_pool:
        return None
    template: Manifest = copy.deepcopy(KubernetesWorker.get_default_base_job_template())
    namespace = namespace_name(slug, settings)
    configuration = template["job_configuration"]
    configuration["namespace"] = namespace
    configuration["cluster_config"] = None  # the worker's own cluster, never one a job variable names
    configuration["job_manifest"] = _job_manifest(namespace, limits, settings)
    template["variables"] = _pool_variables(template["variables"])
    return template


def _job_manifest(namespace: str, tier: TierSettings, settings: KubernetesSettings) -> Manifest:
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {
            "annotations": "{{ annotations }}",
            "generateName": "{{ name }}-",
            "labels": "{{ labels }}",
            "namespace": namespace,
        },
        "spec": {
            "backoffLimit": "{{ backoff_limit }}",
            "ttlSecondsAfterFinished": FINISHED_JOB_TTL,
            "template": {
                "spec": {
                    # Prefect's worker requires these two here, where Kubernetes has no such fields: the API server
                    # drops them with a warning.
                    "completions": 1,
                    "parallelism": 1,
                    "restartPolicy": "Never",
                    "serviceAccountName": FLOW_RUN_ACCOUNT,
                    "automountServiceAccountToken": False,
                    "securityContext": {
                        "runAsNonRoot": True,
                        "runAsUser": RUN_AS_USER,
                        "runAsGroup": RUN_AS_USER,
                        "seccompProfile": {"type": "RuntimeDefault"},
                    },
                    "containers": [_job_container(tier, settings)],
                }
            },
        },
    }


def _job_container(tier: TierSettings, settings: KubernetesSettings) -> Manifest:
    return {
        "name": "prefect-job",
        "args": "{{ command }}",
        # Prefect puts the flow run's own variables before these: each names one key of a Secret (not envFrom:
        # a key the pod was not meant to have stays out of it).
        "env": [
            _from_secret("PREFECT_API_URL", FLOW_RUN_ACCOUNT),
            _from_secret("PREFECT_API_AUTH_STRING", FLOW_RUN_ACCOUNT, optional=True),
            _from_secret("FLOWYARD_BATCH_DOOR__URL", FLOW_RUN_ACCOUNT),
            _from_secret(
                "FLOWYARD_BATCH_DOOR__TOKEN", f"{{{{ {BATCH_SECRET_VARIABLE} }}}}", key="token", optional=True
            ),
        ],
        "image": settings.image,
        "imagePullPolicy": "IfNotPresent",
        "resources": {
            "requests": {"cpu": tier.cpu_request, "memory": tier.memory_request},
            "limits": {"cpu": tier.cpu_limit, "memory": tier.memory_limit},
        },
        "securityContext": {
            "allowPrivilegeEscalation": False,
            "runAsNonRoot": True,
            "capabilities": {"drop": ["ALL"]},
        },
    }


def _from_secret(name: str, secret: str, *, key: str | None = None, optional: bool = False) -> Manifest:
    reference = {"name": secret, "key": key or name, **({"optional": True} if optional else {})}
    return {"name": name, "valueFrom": {"secretKeyRef": reference}}


def _pool_variables(default: Manifest) -> Manifest:
    properties = {name: default["properties"][name] for name in OPEN_VARIABLES}
    properties[BATCH_SECRET_VARIABLE] = {
        "title": "Batch token Secret",
        "description": "The Secret holding the batch's token in the tenant's namespace (set by the dispatcher).",
        "type": "string",
        "default": NO_BATCH_SECRET,
        "pattern": f"^(flowyard-batch-[0-9a-f-]{{36}}|{NO_BATCH_SECRET})$",
    }
    return {
        "description": "Job variables a Flowyard tenant's pool accepts; the rest is fixed by the platform.",
        "type": "object",
        "properties": properties,
        "additionalProperties": False,
    }
