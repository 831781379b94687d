"""Help pages the API links to, served from the repository's docs/: `/help/errors` (docs/errors.md), the
page every step failure's `docs_url` points into (`core.errors.docs_url`)."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import HTMLResponse
from markdown_it import MarkdownIt

from core.errors import ERRORS_DOCS

DOCS = Path(__file__).resolve().parents[1] / "docs"
PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>{title} · Flowyard</title>
<style>body{{font:16px/1.55 system-ui,sans-serif;max-width:46rem;margin:2rem auto;padding:0 1rem;color:#1f2933}}
code{{background:#f1f3f5;padding:0 .25rem;border-radius:3px}}h2{{margin-top:2rem}}</style></head>
<body>{body}</body></html>"""

router = APIRouter(tags=["help"], include_in_schema=False)


@cache
def _render(name: str) -> str:
    text = (DOCS / name).read_text(encoding="utf-8")
    title = text.splitlines()[0].lstrip("# ").strip()
    return PAGE.format(title=title, body=MarkdownIt("commonmark").render(text))


@router.get(ERRORS_DOCS, response_class=HTMLResponse)
def error_kinds() -> HTMLResponse:
    """What each kind of step failure means and what to do about it."""
    return HTMLResponse(_render("errors.md"))
