"""The `flowyard` command line: `up`, `worker`, `dispatcher`, `db upgrade`, `maintenance run`, `keys rotate-master`,
`keys reencrypt`, `users reset-link`, `deploy` and `export` (workflow files), `backup` and `restore`, `version`."""

from __future__ import annotations

import argparse
import sys
from functools import partial
from importlib.metadata import PackageNotFoundError, version
from typing import Any

from pydantic import ValidationError

from core.settings import Settings, get_settings
from flowyard import backup, deploy, kube_cli


def package_version(name: str) -> str:
    try:
        return version(name)
    except PackageNotFoundError:
        return "unknown"


def cmd_version(_settings_loader) -> int:
    print(f"flowyard {package_version('flowyard')} (prefect {package_version('prefect')})")
    return 0


def cmd_up(settings_loader) -> int:
    from flowyard.up import run_up

    return run_up(settings_loader())


def cmd_worker(settings_loader) -> int:
    """Run this installation's worker in the foreground (what `flowyard up` starts; also for Kubernetes)."""
    import os

    from pydantic import SecretStr

    from flowyard.master_key import with_stored_key
    from flowyard.prefect_secrets import stored_auth_string
    from flowyard.up import child_env, ensure_maintenance, ensure_work_pool, worker

    settings: Settings = with_stored_key(settings_loader())  # beside `flowyard up`, its master key
    if settings.prefect.auth_string is None and (stored := stored_auth_string(settings.home_dir)):
        settings.prefect.auth_string = SecretStr(stored)  # and its auth string
    auth = settings.prefect.auth_string
    env = child_env(settings, auth.get_secret_value() if auth else None)
    env["FLOWYARD_MASTER_KEY"] = settings.master_key.get_secret_value()
    ensure_work_pool(settings, settings.worker.work_pool, settings.worker.type)
    ensure_maintenance(settings)  # the hourly retention flow this worker runs
    child = worker(settings, env, settings.home_dir / "logs")
    os.execvpe(child.argv[0], child.argv, child.env)


def cmd_dispatcher(settings_loader) -> int:
    """Run the dispatcher alone, in the foreground, until SIGTERM (on Kubernetes its own Deployment, with
    FLOWYARD_DISPATCHER__ENABLED=false in the platform API); exits 1 if its loop stops or stalls."""
    import logging
    import signal
    import threading

    from engine.dispatcher import serve

    settings: Settings = settings_loader()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    return serve(settings, stop)


def cmd_maintenance_run(settings_loader) -> int:
    """Purge what every workspace's retention policy no longer keeps, now (what the hourly flow does)."""
    from pydantic import SecretStr

    from engine.retention import purge_expired
    from flowyard.prefect_secrets import stored_auth_string

    settings: Settings = settings_loader()
    if settings.prefect.auth_string is None and (stored := stored_auth_string(settings.home_dir)):
        settings.prefect.auth_string = SecretStr(stored)  # beside `flowyard up`, its auth string
    for kind, count in purge_expired(settings).totals().items():
        print(f"purged {count} {kind}")
    return 0


def cmd_settings(_settings_loader) -> int:
    from core.settings import settings_table

    print("| variable | default | what it does |\n| --- | --- | --- |")
    print("\n".join(settings_table()))
    return 0


def current_revision(database_url: str) -> str | None:
    from alembic.runtime.migration import MigrationContext

    from store.db import get_engine

    with get_engine(database_url).connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def cmd_db_upgrade(settings_loader) -> int:
    from sqlalchemy.engine import make_url

    from store.migrate import upgrade

    settings: Settings = settings_loader()
    url = settings.platform_database_url
    shown = make_url(url).render_as_string(hide_password=True)
    settings.home_dir.mkdir(parents=True, exist_ok=True)
    before = current_revision(url)
    upgrade(url)
    after = current_revision(url)
    if before == after:
        print(f"platform database {shown} is already at revision {after}")
    else:
        print(f"platform database {shown} upgraded from revision {before} to {after}")
    return 0


def cmd_keys_rotate_master(settings_loader) -> int:
    """Re-wrap every tenant data key with FLOWYARD_MASTER_KEY; FLOWYARD_PREVIOUS_MASTER_KEYS open them."""
    from rich.progress import Progress

    from blocks.crypto import DecryptionError, MasterKeys, data_keys_not_wrapped_by, rewrap_data_keys
    from flowyard.master_key import with_stored_key
    from store.db import get_session_factory

    settings: Settings = with_stored_key(settings_loader())
    masters = MasterKeys.of(settings)
    with get_session_factory(settings.platform_database_url)() as db, Progress(transient=True) as progress:
        task = progress.add_task("Re-wrapping data keys", total=None)
        try:
            done = rewrap_data_keys(
                db, masters, on_progress=lambda n, total: progress.update(task, completed=n, total=total)
            )
        except DecryptionError as exc:
            print(f"flowyard keys rotate-master: {exc}", file=sys.stderr)
            return 1
        left = data_keys_not_wrapped_by(db, masters)
    print(f"re-wrapped {done} data keys with master key {masters.current_id}")
    if left:
        print(
            f"flowyard keys rotate-master: {left} data keys are wrapped by a master key that is neither "
            "FLOWYARD_MASTER_KEY nor in FLOWYARD_PREVIOUS_MASTER_KEYS: add it there and run this again",
            file=sys.stderr,
        )
        return 1
    print("every data key is wrapped by FLOWYARD_MASTER_KEY: remove FLOWYARD_PREVIOUS_MASTER_KEYS and restart")
    return 0


def _show_progress(progress: Any, task: Any, step: Any) -> None:
    progress.update(task, completed=step.done, total=step.total)


def _show_wait(progress: Any, task: Any, seconds: float) -> None:
    progress.update(task, description=f"Waiting {seconds:.0f} s for other processes' key caches")


def cmd_keys_reencrypt(settings_loader, tenant: str | None = None, all_tenants: bool = False) -> int:
    """Seal workspaces' stored workflow data again with their current data key, in the foreground (what the
    `flowyard-reencrypt` flow of a rotation does), then delete their retired keys; also seals rows written
    before payload encryption."""
    import os

    from rich.console import Console
    from rich.progress import Progress
    from sqlalchemy import select

    from flowyard.master_key import with_stored_key

    settings: Settings = with_stored_key(settings_loader())
    os.environ["FLOWYARD_MASTER_KEY"] = settings.master_key.get_secret_value()  # the keyring reads the settings
    get_settings.cache_clear()
    settings = get_settings()
    if not settings.keys.encrypt_payloads:
        print("flowyard keys reencrypt: payload encryption is off (FLOWYARD_KEYS__ENCRYPT_PAYLOADS): nothing to seal")
        return 0

    from engine.reencrypt import run_reencryption
    from store import Tenant
    from store.db import get_session_factory

    sessions = get_session_factory(settings.platform_database_url)
    with sessions() as db:
        query = select(Tenant.id, Tenant.slug).order_by(Tenant.slug)
        tenants = db.execute(query if all_tenants else query.where(Tenant.slug == tenant)).all()
    if not tenants:
        print(f"flowyard keys reencrypt: no workspace has the slug {tenant!r}", file=sys.stderr)
        return 1
    console, failed = Console(), 0
    for tenant_id, slug in tenants:
        with sessions() as db, Progress(console=console, transient=True) as progress:
            task = progress.add_task(f"Sealing {slug}'s data again", total=None)
            outcome = run_reencryption(
                db,
                tenant_id,
                settings,
                on_progress=partial(_show_progress, progress, task),
                on_wait=partial(_show_wait, progress, task),
            )
        deleted = f", {outcome.retired_keys_deleted} retired keys deleted" if outcome.retired_keys_deleted else ""
        print(f"{slug}: sealed {outcome.sealed} values again{deleted}")
        if outcome.remaining_total:
            failed += 1
            left = ", ".join(f"{count} {name}" for name, count in outcome.remaining.items() if count)
            print(
                f"flowyard keys reencrypt: {slug}: {outcome.remaining_total} values are not sealed with the current "
                f"key ({left}); {outcome.unreadable} did not open: its retired keys are kept",
                file=sys.stderr,
            )
    return 1 if failed else 0


def cmd_users_reset_link(settings_loader, email: str) -> int:
    """A one-time password reset link for a user, for self-hosters without email."""
    from sqlalchemy import select

    from platform_api.auth.sessions import reset_link
    from store import User
    from store.db import get_session_factory

    settings: Settings = settings_loader()
    with get_session_factory(settings.platform_database_url)() as db:
        user = db.scalar(select(User).where(User.email == email.strip().lower()))
        if user is None:
            print(f"flowyard users reset-link: no user has the email {email}", file=sys.stderr)
            return 1
        link = reset_link(db, user=user, public_url=settings.api_public_url)
        db.commit()
    print(link)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="flowyard", description="Flowyard: no-code workflows on Prefect.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    commands.add_parser("up", help="start the embedded platform (Prefect server, API, worker)").set_defaults(
        handler=cmd_up
    )
    commands.add_parser("worker", help="run a worker in the foreground").set_defaults(handler=cmd_worker)
    commands.add_parser("dispatcher", help="run the dispatcher alone, in the foreground").set_defaults(
        handler=cmd_dispatcher
    )
    commands.add_parser("settings", help="print every setting as a Markdown table").set_defaults(handler=cmd_settings)
    commands.add_parser("version", help="print the version").set_defaults(handler=cmd_version)
    db = commands.add_parser("db", help="platform database").add_subparsers(dest="db_command", required=True)
    db.add_parser("upgrade", help="run the platform database migrations").set_defaults(handler=cmd_db_upgrade)
    users = commands.add_parser("users", help="accounts").add_subparsers(dest="users_command", required=True)
    reset = users.add_parser("reset-link", help="print a one-time password reset link (valid for an hour)")
    reset.add_argument("email", help="the user's email")
    reset.set_defaults(handler=cmd_users_reset_link)
    keys = commands.add_parser("keys", help="encryption keys").add_subparsers(dest="keys_command", required=True)
    keys.add_parser(
        "rotate-master", help="re-wrap every tenant's data key with FLOWYARD_MASTER_KEY (see README: Key rotation)"
    ).set_defaults(handler=cmd_keys_rotate_master)
    reencrypt = keys.add_parser(
        "reencrypt", help="seal workspaces' stored data again with their current data key, then delete retired keys"
    )
    which = reencrypt.add_mutually_exclusive_group(required=True)
    which.add_argument("--tenant", metavar="SLUG", help="the workspace's slug")
    which.add_argument("--all", dest="all_tenants", action="store_true", help="every workspace")
    reencrypt.set_defaults(handler=cmd_keys_reencrypt)
    maintenance = commands.add_parser("maintenance", help="retention").add_subparsers(
        dest="maintenance_command", required=True
    )
    maintenance.add_parser("run", help="purge expired runs, payloads and logs now").set_defaults(
        handler=cmd_maintenance_run
    )
    kube_cli.add_commands(commands)
    deploy.add_commands(commands)
    backup.add_commands(commands)
    return parser


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    try:
        if args.command == "users":
            code = args.handler(get_settings, email=args.email)
        elif args.command == "keys" and args.keys_command == "reencrypt":
            code = args.handler(get_settings, tenant=args.tenant, all_tenants=args.all_tenants)
        elif args.command in ("tenants", "kube", "deploy", "export", "backup", "restore"):
            code = args.handler(get_settings, args)
        else:
            code = args.handler(get_settings)
    except ValidationError as exc:
        errors = "; ".join(
            f"{'.'.join(map(str, e['loc'])) or 'settings'}: {e['msg'].removeprefix('Value error, ')}"
            for e in exc.errors()
        )
        print(f"flowyard: invalid settings: {errors}", file=sys.stderr)
        code = 2
    except KeyboardInterrupt:
        code = 130
    sys.exit(code)


if __name__ == "__main__":
    main()
