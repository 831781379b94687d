"""The `flowyard` command line: `up`, `worker`, `db upgrade`, `maintenance run`, `keys rotate-master`,
`users reset-link`, `version`."""

from __future__ import annotations

import argparse
import sys
from importlib.metadata import PackageNotFoundError, version

from pydantic import ValidationError

from core.settings import Settings, get_settings


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
    maintenance = commands.add_parser("maintenance", help="retention").add_subparsers(
        dest="maintenance_command", required=True
    )
    maintenance.add_parser("run", help="purge expired runs, payloads and logs now").set_defaults(
        handler=cmd_maintenance_run
    )
    return parser


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    try:
        if args.command == "users":
            code = args.handler(get_settings, email=args.email)
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
