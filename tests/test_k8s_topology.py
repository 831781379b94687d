"""The 1,000-tenant simulation (`python -m bench k8s_topology`) counts what the reconciler would really apply:
every rendered object of every tenant, a pool per dedicated tenant, and quotas summed from the tiers."""

from __future__ import annotations

from collections import Counter

from bench.k8s_topology import Load, PriceSheet, nodes_for, quantity, report, simulate
from core.settings import KubernetesSettings
from engine.kube.objects import tenant_objects


def test_the_simulation_counts_every_rendered_object_and_pool():
    settings = KubernetesSettings()
    topology = simulate(10, 0.3, settings, Load(dedicated_jobs_at_peak=2))
    rendered = Counter(
        manifest["kind"]
        for tier in ["dedicated"] * 3 + ["shared"] * 7
        for manifest in tenant_objects("00000000-0000-0000-0000-000000000001", "acme", tier, settings)
    )
    assert {kind: topology.objects[kind] for kind in rendered} == dict(rendered)
    assert topology.objects["Namespace"] == 10
    assert (topology.pools, topology.queues) == (1 + 3, 10 + 3)
    dedicated, shared = settings.tiers["dedicated"], settings.tiers["shared"]
    assert topology.quota_cpu == 3 * quantity(dedicated.quota_cpu) + 7 * quantity(shared.quota_cpu)
    assert topology.peak_memory_gib == 3 * 2 * quantity(dedicated.memory_request)
    assert "10 tenants: 3 dedicated, 7 shared" in report(10, 0.3)


def test_quantities_and_node_counts():
    assert [quantity(q) for q in ("250m", "512Mi", "8Gi", "2")] == [0.25, 0.5, 8.0, 2.0]
    prices = PriceSheet()  # 4 CPU, 16 GiB, 90% allocatable
    assert nodes_for(3.6, 1, prices) == 1 and nodes_for(3.7, 1, prices) == 2 and nodes_for(1, 30, prices) == 3
