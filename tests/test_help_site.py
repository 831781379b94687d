"""The help site (mkdocs.yml, docs/): it builds with `mkdocs build --strict`, and every docs link the product gives
(each node type's docs_url from the registry endpoint, each connection type's setup guide, each kind of step
failure's, each problem `type` the API can answer with) leads, through the running API's /help/, to a page that
exists and has the anchor it names."""

from __future__ import annotations

import ast
import os
import re
import subprocess
import sys
import uuid
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from core.errors import ErrorKind, docs_url
from platform_api.problem_types import PROBLEM_TYPES, problem_type

ROOT = Path(__file__).resolve().parent.parent
PRODUCT = ["platform_api"]  # the only package that answers HTTP requests (nothing else imports its Problem)
# Slugs passed on by name, not written at the Problem(...) that sends them: LoadShedding._enter returns them.
PASSED_ON = {"platform_api/shedding.py": {"tenant-overloaded", "overloaded"}}

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    """The site as `make docs` builds it, into a directory of its own: any warning fails (--strict)."""
    directory = tmp_path_factory.mktemp("help") / "site"
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    built = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(directory)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert built.returncode == 0, built.stdout + built.stderr
    return directory


@pytest.fixture(scope="module")
def help_api(site, tmp_path_factory):
    """The platform API serving that site at /help/ (as it serves build/help/)."""
    from fastapi.testclient import TestClient

    from core.settings import Settings
    from platform_api import help_pages
    from platform_api.app import create_app
    from store.migrate import upgrade

    home = tmp_path_factory.mktemp("home")
    upgrade(f"sqlite:///{home}/platform.db")
    settings = Settings(
        home=home,
        database_url=f"sqlite:///{home}/platform.db",
        dispatcher={"enabled": False},
        prefect={"api_url": "http://127.0.0.1:9/api"},
    )
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(help_pages, "HELP_SITE", site)
        app = create_app(settings)
    with TestClient(app, base_url="http://testserver") as client:
        yield client


def _slugs_in(node: ast.AST) -> set[str]:
    return {n.value for n in ast.walk(node) if isinstance(n, ast.Constant) and isinstance(n.value, str)}


def emitted_problem_slugs() -> dict[str, set[str]]:
    """Every problem slug the code can answer with, by file: the slug of each Problem(status, slug, ...) and
    problem_type(slug); a slug given by name is looked up where that name is assigned or defaulted in the function."""
    found: dict[str, set[str]] = {}
    for package in PRODUCT:
        for path in (ROOT / package).rglob("*.py"):
            if "node_modules" in path.parts:
                continue
            relative = str(path.relative_to(ROOT))
            tree = ast.parse(path.read_text(encoding="utf-8"))
            slugs = set(PASSED_ON.get(relative, set()))
            for function in ast.walk(tree):
                if not isinstance(function, ast.FunctionDef | ast.AsyncFunctionDef | ast.Module):
                    continue
                for call in ast.walk(function):
                    if not isinstance(call, ast.Call):
                        continue
                    name = getattr(call.func, "id", getattr(call.func, "attr", None))
                    slug: ast.expr | None = None
                    if name == "Problem" and len(call.args) >= 2:
                        slug = call.args[1]
                    elif name == "Problem":
                        slug = next((k.value for k in call.keywords if k.arg == "slug"), None)
                    elif name == "problem_type" and call.args:
                        slug = call.args[0]
                    else:
                        slug = next((k.value for k in call.keywords if k.arg == "slug"), None)
                    if isinstance(slug, ast.Constant):
                        slugs.add(slug.value)
                    elif isinstance(slug, ast.Name) and not isinstance(function, ast.Module):
                        slugs |= _assigned(function, slug.id)
            slugs.discard("")
            if slugs:
                found[relative] = slugs
    return found


def _assigned(function: ast.FunctionDef | ast.AsyncFunctionDef, name: str) -> set[str]:
    slugs: set[str] = set()
    for node in ast.walk(function):
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == name for t in node.targets):
            slugs |= _slugs_in(node.value)
    arguments = function.args
    positional = arguments.posonlyargs + arguments.args
    for argument, default in zip(
        positional[len(positional) - len(arguments.defaults) :], arguments.defaults, strict=True
    ):
        if argument.arg == name:
            slugs |= _slugs_in(default)
    for argument, kw_default in zip(arguments.kwonlyargs, arguments.kw_defaults, strict=True):
        if argument.arg == name and kw_default is not None:
            slugs |= _slugs_in(kw_default)
    return {s for s in slugs if re.fullmatch(r"[a-z]+(-[a-z]+)*", s)}


def test_every_problem_the_code_can_answer_with_has_a_page():
    emitted = emitted_problem_slugs()
    everything = set().union(*emitted.values())
    missing = {f"{file}: {slug}" for file, slugs in emitted.items() for slug in slugs if slug not in PROBLEM_TYPES}
    assert not missing, f"add these to platform_api/problem_types.py: {sorted(missing)}"
    # the scan is not blind: it finds the common ones, and the dynamic ones of the HTTP errors and the CRM
    assert {"not-found", "validation-error", "bad-signature", "method-not-allowed", "invalid-crm-record"} <= everything
    assert {"invalid-graph", "invalid-workflow-file", "payload-too-large"} <= everything
    assert len(everything) >= 80


def _docs_urls(help_api) -> list[str]:
    signed_up = help_api.post(
        "/api/v1/signup",
        json={"tenant_name": "Help", "email": f"{uuid.uuid4().hex[:8]}@example.com", "password": "correct horse 1"},
    )
    assert signed_up.status_code == 201, signed_up.text
    auth = {"Authorization": f"Bearer {signed_up.json()['token']}"}
    node_types = help_api.get("/api/v1/node-types", headers=auth).json()
    assert len(node_types) > 20
    urls = [node["docs_url"] for node in node_types]
    connection_types = help_api.get("/api/v1/connection-types", headers=auth).json()
    assert len(connection_types) >= 6
    urls += [kind["docs_url"] for kind in connection_types]  # "How to get these details" of a connection's form
    urls += [docs_url(kind) for kind in ErrorKind]
    urls += [problem_type(slug) for slug in PROBLEM_TYPES]
    answered = help_api.get("/api/v1/no-such-thing").json()["type"]  # what the API really sends
    assert answered == problem_type("not-found") == "/help/problems/not-found"  # clients match the "/<slug>" end
    urls += [answered, "/help/errors#rate-limited", "/help/errors#auth"]  # links stored before the site existed
    return urls


def test_every_docs_link_the_product_gives_reaches_a_page_with_its_anchor(help_api):
    broken = []
    pages: dict[str, str] = {}
    for url in _docs_urls(help_api):
        parts = urlsplit(url)
        assert parts.path.startswith("/help/"), url  # FLOWYARD_HELP__BASE_URL's default: the platform's own
        if parts.path not in pages:
            page = help_api.get(parts.path)  # follows /help/errors -> /help/errors/ as a browser does
            if page.status_code != 200 or not page.headers["content-type"].startswith("text/html"):
                broken.append(f"{url}: {page.status_code}")
                continue
            pages[parts.path] = page.text
        if parts.fragment and not re.search(rf'id="{re.escape(parts.fragment)}"', pages[parts.path]):
            broken.append(f"{url}: no anchor #{parts.fragment}")
    assert not broken, broken


def test_the_pages_say_what_they_are_about(help_api):
    node = help_api.get("/help/nodes/email.sendgrid/").text
    assert "Send email (SendGrid)" in node and "template_id" in node and "message_id" in node
    assert "Credentials rejected" in help_api.get(docs_url(ErrorKind.AUTH)).text
    assert "Signature rejected" in help_api.get(problem_type("bad-signature")).text
    api = help_api.get("/help/api/workflows/").text
    assert "/api/v1/workflows/{workflow_id}/publish" in api
    index = help_api.get("/help/search/search_index.json").json()  # the offline search's index
    assert any(doc["location"].startswith("nodes/logic.if/") for doc in index["docs"])


def test_the_site_loads_nothing_from_elsewhere(site):
    for page in [site / "index.html", site / "nodes" / "logic.if" / "index.html"]:
        html = page.read_text(encoding="utf-8")
        external = re.findall(r'(?:src|href)="(https?://[^"]+)"', html)
        assert not external, (page, external)


def test_without_a_build_help_says_how_to_build_it_and_the_old_error_links_still_work(tmp_path, monkeypatch):
    from fastapi.testclient import TestClient

    from core.settings import Settings
    from platform_api import help_pages
    from platform_api.app import create_app

    monkeypatch.setattr(help_pages, "HELP_SITE", tmp_path / "not-built")
    client = TestClient(create_app(Settings(home=tmp_path, dispatcher={"enabled": False})))
    page = client.get("/help/nodes/logic.if/")
    assert page.status_code == 503 and "make docs" in page.text
    errors = client.get("/help/errors")  # docs/errors.md, rendered by the API itself
    assert errors.status_code == 200 and '<a id="rate-limited"></a>' in errors.text


def test_a_hosted_copy_can_be_linked_instead(monkeypatch):
    from core.settings import get_settings
    from flow_factory.nodes import describe_all

    monkeypatch.setenv("FLOWYARD_HELP__BASE_URL", "https://help.example.com/flowyard")
    get_settings.cache_clear()
    try:
        assert docs_url(ErrorKind.TIMEOUT) == "https://help.example.com/flowyard/errors/timeout/"
        assert problem_type("not-found") == "https://help.example.com/flowyard/problems/not-found"
        assert describe_all()[0]["docs_url"].startswith("https://help.example.com/flowyard/nodes/")
    finally:
        get_settings.cache_clear()
