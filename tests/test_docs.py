"""The project documents itself: every relative link in README.md and docs/ names a file inside the
repository, and the architecture notes name every package there is."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LINK = re.compile(r"\]\((?!https?://|mailto:|#)([^)#\s]+)")
PATH_IN_CODE = re.compile(r"`(\.\./[^`]+)`")


def documents() -> list[Path]:
    return [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]


def test_links_stay_inside_the_repository():
    for document in documents():
        text = document.read_text()
        for target in LINK.findall(text):
            resolved = (document.parent / target).resolve()
            assert resolved.is_relative_to(ROOT), f"{document.name} links outside the repository: {target}"
            assert resolved.exists(), f"{document.name} links to a missing file: {target}"
        assert not PATH_IN_CODE.findall(text), f"{document.name} points outside the repository"


def test_architecture_notes_name_every_package():
    notes = (ROOT / "docs" / "architecture.md").read_text()
    packages = {path.parent.name for path in ROOT.glob("*/__init__.py")} - {"tests"}
    missing = [name for name in sorted(packages) if f"`{name}/`" not in notes]
    assert not missing, f"docs/architecture.md does not describe {missing}"
