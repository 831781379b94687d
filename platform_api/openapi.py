"""The platform API's OpenAPI document as deterministic JSON: `python -m platform_api.openapi [path]`.

The builder UI's API types (platform_api/ui/src/api/schema.d.ts) are generated from it, and `make ui-check`
fails when they no longer match. Keys are sorted and nothing depends on the host, the time or the settings,
so the same code always gives the same bytes.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from core.settings import Settings
from platform_api.app import create_app


def openapi_document() -> dict[str, Any]:
    return create_app(Settings()).openapi()


def render(document: dict[str, Any]) -> str:
    return json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) > 1:
        print("usage: python -m platform_api.openapi [path]   (stdout without a path)", file=sys.stderr)
        return 2
    text = render(openapi_document())
    if args:
        Path(args[0]).write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
