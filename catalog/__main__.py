"""`python -m catalog check` checks every template file; `python -m catalog publish` publishes the
new template versions to the platform database (the API also does it once at its first catalog
request) and notifies the tenants whose workflows derive from them."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from catalog.loader import TEMPLATES_DIR


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m catalog")
    commands = parser.add_subparsers(dest="command", required=True)
    check = commands.add_parser("check", help="check every template file")
    publish = commands.add_parser("publish", help="publish new template versions to the platform database")
    for command in (check, publish):
        command.add_argument("--directory", type=Path, default=TEMPLATES_DIR, help="templates: <category>/<slug>.yaml")
    publish.add_argument(
        "--database-url", help="default: the platform database of the settings (FLOWYARD_DATABASE_URL)"
    )
    args = parser.parse_args(argv)

    if args.command == "check":
        from catalog.definition import check as check_template
        from catalog.loader import load_all

        definitions = load_all(args.directory)
        failed = {d.slug: problems for d in definitions if (problems := check_template(d))}
        for slug, problems in failed.items():
            print(f"{slug}:\n  " + "\n  ".join(problems))
        print(f"{len(definitions) - len(failed)} templates fine, {len(failed)} with problems")
        return 1 if failed else 0

    from catalog.index import sync
    from core.settings import get_settings
    from store.db import get_session_factory

    url = args.database_url or get_settings().platform_database_url
    with get_session_factory(url)() as db:
        report = sync(db, args.directory)
    print(
        f"published {len(report.published)} ({', '.join(report.published) or 'none'}), "
        f"{report.unchanged} unchanged, {len(report.refused)} refused; "
        f"notified {len(report.notified_tenants)} tenants"
    )
    for slug, problems in report.refused.items():
        print(f"refused {slug}: " + "; ".join(problems))
    return 1 if report.refused else 0


if __name__ == "__main__":
    sys.exit(main())
