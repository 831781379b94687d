"""Operator commands for workspaces: `flowyard tenants tier <slug> <tier>` (a workspace's tier, then a reconcile of
its namespace and pool), `flowyard tenants import` (flowyard.tenant_import) and `flowyard kube reconcile` (the
maintenance pass, now)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING

from core.settings import Settings
from flowyard import tenant_import

if TYPE_CHECKING:  # the handlers import what they use: every `flowyard` command imports this module
    from engine.kube.reconcile import PassReport

SettingsLoader = Callable[[], Settings]


def add_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    tenants = commands.add_parser("tenants", help="workspaces").add_subparsers(dest="tenants_command", required=True)
    tier = tenants.add_parser("tier", help="move a workspace to another tier, then reconcile it on Kubernetes")
    tier.add_argument("slug", help="the workspace's slug")
    tier.add_argument("tier", help="one of FLOWYARD_KUBERNETES__TIERS")
    tier.set_defaults(handler=cmd_tenants_tier)
    tenant_import.add_command(tenants)
    kube = commands.add_parser("kube", help="Kubernetes").add_subparsers(dest="kube_command", required=True)
    reconcile = kube.add_parser(
        "reconcile", help="repair workspaces' namespaces and pools, and remove those of deleted workspaces"
    )
    reconcile.add_argument("--tenant", metavar="SLUG", help="only this workspace")
    reconcile.add_argument("--limit", type=int, help="at most this many workspaces, least recently reconciled first")
    reconcile.set_defaults(handler=cmd_kube_reconcile)


def _settings(settings_loader: SettingsLoader) -> Settings:
    from pydantic import SecretStr

    from flowyard.prefect_secrets import stored_auth_string

    settings = settings_loader()
    if settings.prefect.auth_string is None and (stored := stored_auth_string(settings.home_dir)):
        settings.prefect.auth_string = SecretStr(stored)  # beside `flowyard up`, its auth string
    return settings


def cmd_tenants_tier(settings_loader: SettingsLoader, args: argparse.Namespace) -> int:
    from sqlalchemy import select

    from engine.kube.reconcile import reconcile_all
    from store import Tenant
    from store.audit import record_event
    from store.db import get_session_factory

    settings = _settings(settings_loader)
    if args.tier not in settings.kubernetes.tiers:
        print(f"flowyard tenants tier: no tier {args.tier!r}; the tiers are {sorted(settings.kubernetes.tiers)}")
        return 2
    with get_session_factory(settings.platform_database_url)() as db:
        tenant = db.scalar(select(Tenant).where(Tenant.slug == args.slug))
        if tenant is None:
            print(f"flowyard tenants tier: no workspace has the slug {args.slug}", file=sys.stderr)
            return 1
        before = tenant.tier or settings.kubernetes.default_tier
        tenant.tier = args.tier
        detail = {"from": before, "to": args.tier}
        record_event(db, tenant_id=tenant.id, action="tenant.tier_changed", target=f"tenant:{tenant.id}", detail=detail)
        db.commit()
    print(f"{args.slug}: tier {before} -> {args.tier}")
    if not settings.kubernetes.enabled:
        return 0
    return _print_report(reconcile_all(settings, slugs=[args.slug]))


def cmd_kube_reconcile(settings_loader: SettingsLoader, args: argparse.Namespace) -> int:
    from engine.kube.reconcile import reconcile_all

    settings = _settings(settings_loader)
    if not settings.kubernetes.enabled:
        print("flowyard kube reconcile: Kubernetes is off (FLOWYARD_KUBERNETES__ENABLED)", file=sys.stderr)
        return 2
    slugs = [args.tenant] if args.tenant else None
    return _print_report(reconcile_all(settings, limit=args.limit, slugs=slugs))


def _print_report(report: PassReport) -> int:
    for slug, changes in report.reconciled.items():
        written = [f"created {', '.join(changes.created)}"] if changes.created else []
        written += [f"updated {', '.join(changes.updated)}"] if changes.updated else []
        written += [f"deleted {', '.join(changes.deleted)}"] if changes.deleted else []
        print(f"{slug}: {'; '.join(written) or 'in step'}")
    for namespace in report.removed:
        print(f"removed {namespace} (its workspace no longer exists)")
    for secret in report.closed_doors:
        print(f"deleted Secret {secret} (its batch ended or its token expired)")
    for slug, error in report.failed.items():
        print(f"{slug}: FAILED {error} (the next pass tries again)", file=sys.stderr)
    return 1 if report.failed else 0
