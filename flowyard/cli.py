"""The `flowyard` command line: `up`, `worker`, `db upgrade`, `version`."""

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

    from flowyard.prefect_secrets import stored_auth_string
    from flowyard.up import child_env, ensure_work_pool, worker

    settings: Settings = settings_loader()
    if settings.prefect.auth_string is None and (stored := stored_auth_string(settings.home_dir)):
        settings.prefect.auth_string = SecretStr(stored)  # beside `flowyard up`, its auth string
    auth = settings.prefect.auth_string
    env = child_env(settings, auth.get_secret_value() if auth else None)
    ensure_work_pool(settings, settings.worker.work_pool, settings.worker.type)
    child = worker(settings, env, settings.home_dir / "logs")
    os.execvpe(child.argv[0], child.argv, child.env)


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
    return parser


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    try:
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
