"""The Dockerfile the manifests' image is built from, read with Docker's own parser (`docker build` cannot run
here): a UI stage, a Python stage, the help site's stage and a slim runtime stage; exact base image versions; not root; the builder UI
copied to where the API serves it from; every package and the help pages in the image."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import dockerfile

from platform_api.app import UI_DIST

ROOT = Path(__file__).parents[2]


def instructions() -> list[dockerfile.Command]:
    return list(dockerfile.parse_string((ROOT / "Dockerfile").read_text()))


def stages() -> dict[str, list[dockerfile.Command]]:
    """Instructions by stage name (`FROM image AS name`)."""
    named: dict[str, list[dockerfile.Command]] = {}
    for command in instructions():
        if command.cmd == "FROM":
            image, _, name = command.value
            current = named.setdefault(name, [command])
        else:
            current.append(command)
    return named


def test_the_stages_come_from_exactly_versioned_base_images():
    assert list(stages()) == ["ui", "python", "help", "runtime"]
    for command in instructions():
        if command.cmd == "FROM" and command.value[0] not in stages():  # `FROM python AS help`: a stage above
            image = command.value[0]
            name, _, tag = image.partition(":")
            assert tag and tag != "latest" and re.match(r"\d+\.\d+\.\d+-", tag), f"pin {image} to an exact version"
    assert stages()["ui"][0].value[0].startswith("node:")
    assert stages()["runtime"][0].value[0] == stages()["python"][0].value[0]  # the venv runs where it was built


def test_the_runtime_runs_as_the_numeric_non_root_user_of_the_manifests():
    users = [c.value[0] for c in stages()["runtime"] if c.cmd == "USER"]
    assert users, "the runtime stage needs a USER"
    uid = users[-1].split(":")[0]
    assert uid.isdigit() and int(uid) != 0
    worker = (ROOT / "k8s" / "base" / "worker" / "flowyard-worker.yaml").read_text()
    assert f"runAsUser: {uid}" in worker


def test_the_builder_ui_is_built_and_copied_where_the_api_serves_it():
    ui = stages()["ui"]
    assert any(c.cmd == "RUN" and "npm run build" in c.value[0] for c in ui)
    copies = [c for c in stages()["runtime"] if c.cmd == "COPY" and "--from=ui" in c.flags]
    served = "/app/" + UI_DIST.relative_to(ROOT).as_posix()
    assert [c.value[-1] for c in copies] == [served]


def test_the_help_site_is_built_strictly_and_copied_where_the_api_serves_it():
    from platform_api.help_pages import HELP_SITE

    assert any(c.cmd == "RUN" and "mkdocs build --strict" in c.value[0] for c in stages()["help"])
    copies = [c for c in stages()["runtime"] if c.cmd == "COPY" and "--from=help" in c.flags]
    assert [c.value[-1] for c in copies] == ["/app/" + HELP_SITE.relative_to(ROOT).as_posix()]


def test_every_package_and_the_help_pages_are_in_the_image():
    packages = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]["find"]["include"]
    copied = {c.value[0].rstrip("/") for c in stages()["python"] if c.cmd == "COPY" and not c.flags}
    missing = {p.rstrip("*") for p in packages} - copied
    assert not missing, f"COPY these packages in the Dockerfile: {sorted(missing)}"
    assert "docs" in copied  # platform_api.help_pages serves docs/*.md


def test_the_build_context_leaves_out_local_state():
    ignored = set((ROOT / ".dockerignore").read_text().split())
    assert {".git", ".venv", ".flowyard", "platform_api/ui/node_modules", "tests"} <= ignored
