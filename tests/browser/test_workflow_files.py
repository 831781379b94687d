"""Workflow files in the builder: a workflow exported as YAML from the editor, edited by hand (another key and
name, a step's message changed, an email step added) and imported on the Workflows page: the dry run says what
will happen and what to set up after, importing opens the new workflow. A file with an invalid step shows the
problem's path and hint and creates nothing."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml
from playwright.sync_api import Page, expect

from tests.browser.helpers import create_workflow, new_tenant, node, open_editor, sign_in, three_step_graph

pytestmark = pytest.mark.parametrize("stack", ["sqlite"], indirect=True)


def export_yaml(page: Page, tmp_path: Path) -> tuple[str, dict]:
    page.get_by_role("button", name="Export").click()
    menu = page.get_by_role("menu", name="Export as")
    with page.expect_download() as downloading:
        menu.get_by_role("menuitem", name=re.compile("^YAML")).click()
    download = downloading.value
    target = tmp_path / download.suggested_filename
    download.save_as(target)
    return download.suggested_filename, yaml.safe_load(target.read_text())


def open_import(page: Page, app_url: str, file: Path):
    page.goto(f"{app_url}/#/")
    page.get_by_role("button", name="Import", exact=True).click()
    dialog = page.get_by_role("dialog", name="Import a workflow")
    dialog.get_by_label("Workflow file").set_input_files(str(file))
    return dialog


def names(api) -> list[str]:
    response = api.get("/api/v1/workflows")
    assert response.status_code == 200, response.text
    return [w["name"] for w in response.json()]


def test_export_edit_and_import_a_copy(page: Page, app_url: str, tmp_path: Path):
    api = new_tenant(app_url)
    workflow = create_workflow(api, "Lead follow-up", three_step_graph())
    sign_in(page, app_url, api)
    open_editor(page, app_url, workflow["id"])

    file_name, document = export_yaml(page, tmp_path)
    assert file_name == "lead-follow-up.yaml"
    assert document["key"] == "lead-follow-up" and document["name"] == "Lead follow-up"
    assert [n["id"] for n in document["graph"]["nodes"]] == ["start", "shape", "say"]

    # A copy: another key and name, the log step's message changed, an email step through a connection by name.
    document["key"], document["name"] = "lead-follow-up-fr", "Lead follow-up (FR)"
    say = next(n for n in document["graph"]["nodes"] if n["id"] == "say")
    say["config"]["message"] = "Bonjour {{ steps.shape.output.name }}"
    document["graph"]["nodes"].append(
        {
            "id": "mail",
            "type": "email.sendgrid",
            "label": "Welcome mail",
            "config": {"connection": "Main", "to": "{{ trigger.email }}", "subject": "Bienvenue", "text": "Bonjour"},
            "position": {"x": 900, "y": 0},
        }
    )
    document["graph"]["edges"].append({"id": "e3", "source": "say", "source_handle": None, "target": "mail"})
    document["connections"] = [{"type": "sendgrid", "name": "Main"}]
    edited = tmp_path / "lead-follow-up-fr.yaml"
    edited.write_text(yaml.safe_dump(document, sort_keys=False, allow_unicode=True))

    dialog = open_import(page, app_url, edited)
    preview = dialog.get_by_test_id("import-preview")
    expect(preview).to_have_attribute("data-action", "create")
    expect(preview).to_contain_text("Will create a new workflow (key lead-follow-up-fr) with 4 steps")
    expect(dialog.get_by_test_id("import-setup")).to_contain_text("Create a SendGrid connection named Main")
    assert "Lead follow-up (FR)" not in names(api)  # a dry run writes nothing

    dialog.get_by_role("button", name="Import", exact=True).click()
    expect(dialog).to_be_hidden()
    expect(page).to_have_url(re.compile(r"#/workflows/[0-9a-f-]+$"))
    assert not page.url.endswith(workflow["id"])
    expect(page.get_by_label("Workflow name")).to_have_value("Lead follow-up (FR)")
    expect(node(page, "mail")).to_be_visible()
    node(page, "say").click()
    panel = page.get_by_label("Step settings")
    message = panel.locator('[data-field="message"]').locator("textarea, input").first
    expect(message).to_have_value("Bonjour {{ steps.shape.output.name }}")

    assert sorted(names(api)) == ["Lead follow-up", "Lead follow-up (FR)"]

    # Export all: one YAML file of the workspace, which imports back as it is.
    page.goto(f"{app_url}/#/")
    with page.expect_download() as downloading:
        page.get_by_role("button", name="Export all").click()
    download = downloading.value
    assert download.suggested_filename == f"{api.signup_body['tenant']['slug']}-workflows.yaml"
    everything = tmp_path / download.suggested_filename
    download.save_as(everything)
    workspace = yaml.safe_load(everything.read_text())
    assert workspace["format"] == "flowyard.workspace"
    assert sorted(w["key"] for w in workspace["workflows"]) == ["lead-follow-up", "lead-follow-up-fr"]

    dialog = open_import(page, app_url, everything)
    preview = dialog.get_by_test_id("import-preview")
    expect(preview).to_have_attribute("data-action", "workspace")
    expect(preview).to_contain_text("2 are already up to date")
    expect(dialog.get_by_role("button", name="Import", exact=True)).to_be_disabled()


def test_bpmn_export_imports_back_unchanged_with_what_bpmn_cannot_map(page: Page, app_url: str, tmp_path: Path):
    api = new_tenant(app_url)
    workflow = create_workflow(api, "Lead follow-up", three_step_graph())
    sign_in(page, app_url, api)
    open_editor(page, app_url, workflow["id"])

    page.get_by_role("button", name="Export").click()
    with page.expect_download() as downloading:
        page.get_by_role("menu", name="Export as").get_by_role("menuitem", name=re.compile("^BPMN 2.0")).click()
    download = downloading.value
    assert download.suggested_filename == "lead-follow-up.bpmn"
    exported = tmp_path / download.suggested_filename
    download.save_as(exported)
    xml = exported.read_text()
    # A text annotation: BPMN that has no Flowyard meaning, listed as unmapped.
    match = re.search(r"</([A-Za-z0-9_-]+:)?process>", xml)
    assert match, xml[:400]
    prefix = match.group(1) or ""
    note = f'<{prefix}textAnnotation id="note"><{prefix}text>Ask sales first</{prefix}text></{prefix}textAnnotation>'
    annotated = tmp_path / "annotated.bpmn"
    annotated.write_text(xml[: match.start()] + note + xml[match.start() :])

    dialog = open_import(page, app_url, annotated)
    preview = dialog.get_by_test_id("import-preview")
    expect(preview).to_have_attribute("data-action", "unchanged")
    expect(preview).to_contain_text("already up to date")
    expect(dialog.get_by_test_id("import-unmapped")).to_contain_text("note")
    dialog.get_by_role("button", name="Open the workflow").click()
    expect(page).to_have_url(re.compile(f"#/workflows/{workflow['id']}$"))
    assert api.get(f"/api/v1/workflows/{workflow['id']}").json()["version"] == 1


def test_an_invalid_file_shows_its_problems_and_creates_nothing(page: Page, app_url: str, tmp_path: Path):
    api = new_tenant(app_url)
    graph = three_step_graph()
    graph["nodes"][2]["config"] = {}  # the log step has no message
    document = {"format": "flowyard.workflow", "format_version": 1, "key": "broken", "name": "Broken", "graph": graph}
    broken = tmp_path / "broken.yaml"
    broken.write_text(yaml.safe_dump(document, sort_keys=False))
    sign_in(page, app_url, api)

    dialog = open_import(page, app_url, broken)
    problem = dialog.locator(".import-problem")
    expect(problem).to_be_visible()
    entry = problem.locator('li[data-path^="graph.nodes[2].config"]').first
    expect(entry).to_be_visible()
    expect(entry.locator("code")).to_have_text(re.compile(r"^graph\.nodes\[2\]\.config"))
    expect(entry).to_contain_text("How to fix it:")
    expect(dialog.get_by_test_id("import-preview")).to_have_count(0)
    expect(dialog.get_by_role("button", name="Import", exact=True)).to_be_disabled()

    # Not a workflow file at all: said before anything is sent.
    notes = tmp_path / "notes.txt"
    notes.write_text("hello")
    dialog.get_by_label("Workflow file").set_input_files(str(notes))
    expect(dialog.get_by_role("alert")).to_contain_text("notes.txt is not a workflow file")

    dialog.get_by_role("button", name="Cancel").click()
    expect(dialog).to_be_hidden()
    assert names(api) == []
