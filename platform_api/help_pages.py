"""The help site at `/help/`: docs/ built with MkDocs into build/help/ (`make docs`; the Dockerfile builds it into
the image). Every docs link the product gives (node types, step failures, problem types) points into it by
default (FLOWYARD_HELP__BASE_URL). Without a build, `/help/` answers a page that says how to build it, and
`/help/errors` still renders docs/errors.md, the page step failures linked to before the site existed."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from fastapi import APIRouter, FastAPI
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from markdown_it import MarkdownIt

from core.errors import ERRORS_DOCS

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
HELP_SITE = ROOT / "build" / "help"  # mkdocs.yml's site_dir
PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>{title} · Flowyard</title>
<style>body{{font:16px/1.55 system-ui,sans-serif;max-width:46rem;margin:2rem auto;padding:0 1rem;color:#1f2933}}
code{{background:#f1f3f5;padding:0 .25rem;border-radius:3px}}h2{{margin-top:2rem}}</style></head>
<body>{body}</body></html>"""
NOT_BUILT = """# The help site is not built

This Flowyard serves its help from `build/help/`, which is empty. Build it from the repository with
`make docs` (or `.venv/bin/mkdocs build`), then reload this page. The same pages are in the repository's `docs/`
folder as Markdown.
"""

router = APIRouter(tags=["help"], include_in_schema=False)


def is_built() -> bool:
    return (HELP_SITE / "index.html").is_file()


@cache
def _render(name: str) -> str:
    text = (DOCS / name).read_text(encoding="utf-8")
    return _page(text)


def _page(markdown: str) -> str:
    title = markdown.splitlines()[0].lstrip("# ").strip()
    return PAGE.format(title=title, body=MarkdownIt("commonmark").render(markdown))


@router.get("/help")
def help_home() -> RedirectResponse:
    return RedirectResponse("/help/", status_code=308)


@router.get(ERRORS_DOCS, response_class=HTMLResponse)
def error_kinds() -> Response:
    """What each kind of step failure means: the site's page (a browser keeps the #kind of the old links)."""
    if is_built():
        return RedirectResponse(f"{ERRORS_DOCS}/", status_code=308)
    return HTMLResponse(_render("errors.md"))


def mount(app: FastAPI) -> None:
    """Serve the built site at /help/ (its search included), or a page saying how to build it."""
    if is_built():
        app.mount("/help", StaticFiles(directory=HELP_SITE, html=True), name="help")
        return

    @app.get("/help/{path:path}", include_in_schema=False)
    def help_not_built(path: str) -> HTMLResponse:
        return HTMLResponse(_page(NOT_BUILT), status_code=503)
