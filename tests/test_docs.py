"""The project documents itself: every relative link in README.md and docs/ names a file inside the
repository, and the architecture notes name every package there is."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LINK = re.compile(r"\]\((?!https?://|mailto:|#)([^)#\s]+)")
PATH_IN_CODE = re.compile(r"`(\.\./[^`]+)`")


def documents() -> list[Path]:
    return [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]


def generated_pages() -> set[Path]:
    """The help site's pages made from the code at build time (docs/hooks/help_site.py): node types, kinds of
    failure, API problems, the API reference. Pages of docs/ may link them; they are never committed."""
    spec = importlib.util.spec_from_file_location("help_site", ROOT / "docs" / "hooks" / "help_site.py")
    assert spec and spec.loader
    hook = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(hook)
    return {(ROOT / "docs" / path).resolve() for path in hook.generated_pages()}


def test_links_stay_inside_the_repository():
    generated = generated_pages()
    for document in documents():
        text = document.read_text()
        for target in LINK.findall(text):
            resolved = (document.parent / target).resolve()
            assert resolved.is_relative_to(ROOT), f"{document.name} links outside the repository: {target}"
            assert resolved.exists() or resolved in generated, f"{document.name} links to a missing file: {target}"
        assert not PATH_IN_CODE.findall(text), f"{document.name} points outside the repository"


def test_architecture_notes_name_every_package():
    notes = (ROOT / "docs" / "architecture.md").read_text()
    packages = {path.parent.name for path in ROOT.glob("*/__init__.py")} - {"tests"}
    missing = [name for name in sorted(packages) if f"`{name}/`" not in notes]
    assert not missing, f"docs/architecture.md does not describe {missing}"
