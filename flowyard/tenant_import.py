"""`flowyard tenants import BUNDLE.zip --owner EMAIL`: a workspace's privacy export bundle becomes a workspace of
this installation (`platform_api.privacy.restore`), its published workflows live again."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from core.settings import Settings, get_settings

if TYPE_CHECKING:  # every `flowyard` command imports this module: the handler imports what it uses
    from rich.console import Console

    from platform_api.privacy.restore import Imported

SettingsLoader = Callable[[], Settings]
COMMAND = "flowyard tenants import"


def add_command(tenants: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    command = tenants.add_parser("import", help="import a workspace's export bundle as a new workspace here")
    command.add_argument("bundle", type=Path, help="the .zip that POST /api/v1/privacy/export made")
    command.add_argument("--owner", required=True, metavar="EMAIL", help="its owner: a user here, or a new one")
    command.add_argument("--slug", help="the new workspace's slug (default: the bundle's)")
    command.add_argument("--name", help="the new workspace's name (default: the bundle's)")
    command.set_defaults(handler=cmd_tenants_import)


def _refused(reason: str, hint: str) -> int:
    print(f"{COMMAND}: {reason}\nhint: {hint}", file=sys.stderr)
    return 1


def _settings(settings_loader: SettingsLoader) -> Settings:
    """As `flowyard up` beside it runs: its master key (which the payload keyring reads) and Prefect auth."""
    from flowyard.kube_cli import _settings as with_prefect_auth
    from flowyard.master_key import with_stored_key

    os.environ["FLOWYARD_MASTER_KEY"] = with_stored_key(settings_loader()).master_key.get_secret_value()
    get_settings.cache_clear()
    return with_prefect_auth(get_settings)


def cmd_tenants_import(settings_loader: SettingsLoader, args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.progress import Progress

    from core.prefect_client import reachable
    from engine.kube.reconcile import TenantRef
    from platform_api.kube import provision_workspace
    from platform_api.privacy.restore import ImportRefused, check_slug, import_bundle, open_bundle, republish
    from store.db import get_session_factory

    settings = _settings(settings_loader)
    console = Console()
    try:
        with console.status("Checking the bundle"):
            bundle = open_bundle(args.bundle)
        slug, name = args.slug or bundle.manifest["tenant"]["slug"], args.name or bundle.manifest["tenant"]["name"]
        with get_session_factory(settings.platform_database_url)() as db:
            check_slug(db, slug)
            if bundle.published and (why := reachable(settings)):
                return _refused(
                    f"the bundle has published workflows and the Prefect API is unreachable ({why})",
                    "Run the import where `flowyard up` runs, or set FLOWYARD_PREFECT__API_URL.",
                )
            with Progress(console=console) as progress:
                tasks = {kind: progress.add_task(kind, total=count) for kind, count in bundle.counts.items()}
                done = import_bundle(
                    db,
                    bundle,
                    slug=slug,
                    name=name,
                    owner_email=args.owner,
                    settings=settings,
                    on_row=lambda kind: progress.advance(tasks[kind]),
                )
            provision_workspace(settings, TenantRef(done.tenant.id, done.tenant.slug, done.tenant.tier or ""))
            failed = republish(db, done, settings)
    except ImportRefused as exc:
        return _refused(exc.reason, exc.hint)
    _summary(console, done, bundle.counts, failed)
    return 1 if failed else 0


def _summary(console: Console, done: Imported, counts: dict[str, int], failed: dict[str, str]) -> None:
    from rich.table import Table

    table = Table("kind", "in the bundle", "imported", title=f"Workspace {done.tenant.slug} ({done.tenant.name})")
    for kind, count in counts.items():
        table.add_row(kind, str(count), str(done.counts[kind]))
    console.print(table)
    print(f"owner: {done.owner.email}")
    if done.sign_in_link:
        print(f"  new here: send them this link to choose a password (valid for an hour): {done.sign_in_link}")
    print(f"published again: {len(done.published) - len(failed)} of {len(done.published)} workflows")
    if done.cancelled_runs:
        print(f"{done.cancelled_runs} runs were unfinished in the bundle: they are cancelled here")
    if done.connections:
        print(f"{len(done.connections)} connections need their secrets entered again: {', '.join(done.connections)}")
    for workflow, why in failed.items():
        print(f"{COMMAND}: {workflow!r} is not published: {why}", file=sys.stderr)
    if failed:
        print("hint: everything else is imported; publish it from the builder once the engine answers", file=sys.stderr)
