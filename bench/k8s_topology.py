"""1,000 tenants on Kubernetes, simulated: renders every per-tenant object the platform would apply
(`engine.kube.objects`, the same code the reconciler uses) for a mix of tiers and reports what the cluster and
Prefect would hold, how much of a node pool the tenants' quotas and expected load take, and a monthly cost per
tenant from the price sheet below. Nothing is applied; no cluster is needed.

    python -m bench k8s_topology [--tenants 1000] [--dedicated-share 0.15]

It prints the Markdown tables that docs/kubernetes-scale.md shows.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections import Counter
from dataclasses import dataclass

from core.settings import KubernetesSettings
from engine.kube.objects import tenant_objects, work_pool_template


@dataclass(frozen=True)
class PriceSheet:
    """On-demand list prices (USD, AWS us-east-1, Linux, read in 2026): assumptions to replace with yours."""

    node: str = "m6i.xlarge (4 vCPU, 16 GiB)"
    node_cpu: float = 4.0
    node_memory_gib: float = 16.0
    node_allocatable: float = 0.9  # what is left for pods after the kubelet, system daemons and eviction reserve
    node_per_hour: float = 0.192
    control_plane_per_hour: float = 0.10  # EKS
    platform_nodes: int = 3  # API, dispatcher, Prefect server and services, Redis, shared Flowyard workers
    database_per_hour: float = 0.64  # PostgreSQL, 2 × db.m6g.large-class Multi-AZ: platform and Prefect
    hours_per_month: float = 730.0


@dataclass(frozen=True)
class Load:
    """Expected peak use, an assumption: how many flow-run Jobs a dedicated tenant has running at once."""

    dedicated_jobs_at_peak: float = 1.0


def tiers_of(tenants: int, dedicated_share: float) -> list[str]:
    dedicated = round(tenants * dedicated_share)
    return ["dedicated"] * dedicated + ["shared"] * (tenants - dedicated)


def quantity(value: str) -> float:
    """A Kubernetes quantity in cores or GiB: "250m" -> 0.25, "512Mi" -> 0.5, "8Gi" -> 8."""
    units = {"m": 1e-3, "Ki": 2**-20, "Mi": 2**-10, "Gi": 1.0, "Ti": 2**10}
    for suffix, factor in units.items():
        if value.endswith(suffix):
            return float(value[: -len(suffix)]) * factor
    return float(value)


@dataclass
class Topology:
    objects: Counter[str]
    etcd_bytes: int
    pools: int
    queues: int
    quota_cpu: float
    quota_memory_gib: float
    peak_cpu: float
    peak_memory_gib: float


def simulate(tenants: int, dedicated_share: float, settings: KubernetesSettings, load: Load) -> Topology:
    objects: Counter[str] = Counter()
    etcd_bytes = pools = 0
    quota_cpu = quota_memory = peak_cpu = peak_memory = 0.0
    for index, tier in enumerate(tiers_of(tenants, dedicated_share)):
        slug = f"tenant-{index:04d}"
        for manifest in tenant_objects(f"00000000-0000-0000-0000-{index:012d}", slug, tier, settings):
            objects[manifest["kind"]] += 1
            etcd_bytes += len(json.dumps(manifest, separators=(",", ":")))
        template = work_pool_template(slug, tier, settings)
        if template is not None:  # a pool lives in Prefect's database, not in etcd
            pools += 1
        limits = settings.tiers[tier]
        quota_cpu += quantity(limits.quota_cpu)
        quota_memory += quantity(limits.quota_memory)
        if limits.dedicated_pool:
            peak_cpu += load.dedicated_jobs_at_peak * quantity(limits.cpu_request)
            peak_memory += load.dedicated_jobs_at_peak * quantity(limits.memory_request)
    # A Kubernetes ServiceAccount gets a token Secret from the controller before 1.24 (none after): count it.
    objects["Secret (ServiceAccount token, Kubernetes < 1.24)"] = objects["ServiceAccount"]
    # Prefect: the shared pool with a queue per tenant (engine.publish), and each dedicated pool's default queue.
    queues = tenants + pools
    return Topology(objects, etcd_bytes, pools + 1, queues, quota_cpu, quota_memory, peak_cpu, peak_memory)


def nodes_for(cpu: float, memory_gib: float, prices: PriceSheet) -> int:
    usable_cpu, usable_memory = (
        prices.node_cpu * prices.node_allocatable,
        prices.node_memory_gib * prices.node_allocatable,
    )
    return max(math.ceil(cpu / usable_cpu), math.ceil(memory_gib / usable_memory))


def cost_rows(topology: Topology, tenants: int, tier_counts: Counter[str], prices: PriceSheet) -> list[tuple]:
    month = prices.hours_per_month
    tenant_nodes = nodes_for(topology.peak_cpu, topology.peak_memory_gib, prices)
    fixed = (
        prices.control_plane_per_hour + prices.platform_nodes * prices.node_per_hour + prices.database_per_hour
    ) * month
    dedicated_nodes = tenant_nodes * prices.node_per_hour * month
    shared_each = fixed / tenants
    dedicated_each = shared_each + (dedicated_nodes / tier_counts["dedicated"] if tier_counts["dedicated"] else 0.0)
    return [
        ("platform (control plane, platform nodes, databases)", f"${fixed:,.0f}", f"${shared_each:,.2f}"),
        (
            f"nodes for dedicated tenants' Jobs at peak ({tenant_nodes} × {prices.node})",
            f"${dedicated_nodes:,.0f}",
            "-",
        ),
        ("per shared-tier tenant", "-", f"${shared_each:,.2f}"),
        ("per dedicated-tier tenant", "-", f"${dedicated_each:,.2f}"),
    ]


def tiers_table(settings: KubernetesSettings) -> str:
    fields = (
        "dedicated_pool",
        "quota_cpu",
        "quota_memory",
        "quota_pods",
        "quota_jobs",
        "cpu_request",
        "memory_request",
    )
    rows = [(name, *(getattr(tier, field) for field in fields)) for name, tier in settings.tiers.items()]
    return markdown(("tier", *fields), rows)


def markdown(header: tuple, rows: list[tuple]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(" --- " for _ in header) + "|"]
    return "\n".join(lines + ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows])


def report(tenants: int, dedicated_share: float) -> str:
    settings, prices, load = KubernetesSettings(), PriceSheet(), Load()
    topology = simulate(tenants, dedicated_share, settings, load)
    tier_counts = Counter(tiers_of(tenants, dedicated_share))
    node_cpu, node_memory = prices.node_cpu * prices.node_allocatable, prices.node_memory_gib * prices.node_allocatable
    return "\n\n".join(
        [
            f"{tenants:,} tenants: " + ", ".join(f"{count:,} {tier}" for tier, count in sorted(tier_counts.items())),
            tiers_table(settings),
            markdown(("Kubernetes object", "count"), sorted(topology.objects.items()))
            + f"\n| **all** | **{sum(topology.objects.values()):,}** |",
            markdown(
                ("etcd and Prefect", "value"),
                [
                    ("objects in etcd (per-tenant only)", f"{sum(topology.objects.values()):,}"),
                    ("their size as JSON (etcd stores protobuf, smaller)", f"{topology.etcd_bytes / 2**20:,.1f} MiB"),
                    ("share of etcd's default 2 GiB backend quota", f"{topology.etcd_bytes / 2**31:.2%}"),
                    ("Prefect work pools (shared + dedicated)", f"{topology.pools:,}"),
                    ("Prefect work queues", f"{topology.queues:,}"),
                ],
            ),
            markdown(
                ("resources", "CPU (cores)", "memory (GiB)", f"{prices.node} nodes"),
                [
                    (
                        "sum of namespace quotas (the most tenants may claim)",
                        f"{topology.quota_cpu:,.0f}",
                        f"{topology.quota_memory_gib:,.0f}",
                        nodes_for(topology.quota_cpu, topology.quota_memory_gib, prices),
                    ),
                    (
                        f"expected peak: {load.dedicated_jobs_at_peak:g} Job per dedicated tenant, at its requests",
                        f"{topology.peak_cpu:,.1f}",
                        f"{topology.peak_memory_gib:,.1f}",
                        nodes_for(topology.peak_cpu, topology.peak_memory_gib, prices),
                    ),
                    ("one node, allocatable", f"{node_cpu:g}", f"{node_memory:g}", 1),
                ],
            ),
            markdown(
                ("cost per month (USD)", "total", "per tenant"), cost_rows(topology, tenants, tier_counts, prices)
            ),
        ]
    )


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench k8s_topology", description=__doc__.splitlines()[0])
    parser.add_argument("--tenants", type=int, default=1000)
    parser.add_argument("--dedicated-share", type=float, default=0.15)
    args = parser.parse_args()
    print(report(args.tenants, args.dedicated_share))
    return 0


if __name__ == "__main__":
    sys.exit(main())
