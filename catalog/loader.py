"""Reads the template files: catalog/templates/<category>/<slug>.yaml."""

from __future__ import annotations

from pathlib import Path

import yaml
from pydantic import ValidationError

from catalog.definition import TemplateDefinition

TEMPLATES_DIR = Path(__file__).parent / "templates"


class TemplateFileError(Exception):
    def __init__(self, path: Path, message: str) -> None:
        super().__init__(f"{path}: {message}")
        self.path = path


def template_files(directory: Path = TEMPLATES_DIR) -> list[Path]:
    return sorted(directory.glob("*/*.yaml"))


def load_file(path: Path) -> TemplateDefinition:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        definition = TemplateDefinition.model_validate(data)
    except (yaml.YAMLError, ValidationError) as exc:
        raise TemplateFileError(path, str(exc)) from None
    if definition.slug != path.stem or definition.category != path.parent.name:
        raise TemplateFileError(path, f"must be stored as {definition.category}/{definition.slug}.yaml")
    return definition


def load_all(directory: Path = TEMPLATES_DIR) -> list[TemplateDefinition]:
    definitions = [load_file(path) for path in template_files(directory)]
    seen: set[str] = set()
    for definition in definitions:
        if definition.slug in seen:
            raise TemplateFileError(directory, f"two templates have the slug '{definition.slug}'")
        seen.add(definition.slug)
    return definitions
