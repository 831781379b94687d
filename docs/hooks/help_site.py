"""MkDocs hook (mkdocs.yml `hooks:`): the help site's pages that are made from the code at build time, never
committed: one page per node type (from the node registry), per kind of step failure (from docs/errors.md's
sections), per problem type (platform_api/problem_types.py) and per tag of the API (its OpenAPI document).
Their addresses are the ones the product links to: nodes/<type>/, errors/<kind>/, problems/<slug>/, api/<tag>/.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from mkdocs.config.defaults import MkDocsConfig
from mkdocs.structure.files import File, Files

DOCS = Path(__file__).resolve().parents[1]
KIND_SECTION = re.compile(r'<a id="([a-z-]+)"></a>\n## (.+?)\n(.*?)(?=\n<a id=|\Z)', re.S)
SERVICE_KINDS = ("auth", "permission", "validation", "rate_limited", "upstream_down", "timeout", "configuration")
LOCAL_KINDS = ("expression", "configuration")


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def _cell(text: Any) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _json_block(value: Any) -> str:
    return "```json\n" + json.dumps(value, indent=2, ensure_ascii=False) + "\n```\n"


# --- node types -------------------------------------------------------------------------------------------------


def _type_of(schema: dict[str, Any], defs: dict[str, Any]) -> str:
    if "$ref" in schema:
        return schema["$ref"].rsplit("/", 1)[-1]
    if "anyOf" in schema:
        return " or ".join(_type_of(s, defs) for s in schema["anyOf"])
    if "enum" in schema:
        return "one of " + ", ".join(f"`{v}`" for v in schema["enum"])
    if "const" in schema:
        return f"`{schema['const']}`"
    kind = schema.get("type", "any")
    if kind == "array" and isinstance(schema.get("items"), dict):
        return f"list of {_type_of(schema['items'], defs)}"
    return str(kind)


def _fields_table(schema: dict[str, Any]) -> str:
    properties = schema.get("properties", {})
    if not properties:
        return "This step has no settings.\n"
    required = set(schema.get("required", []))
    defs = schema.get("$defs", {})
    rows = ["| setting | type | required | default | what it does |", "| --- | --- | --- | --- | --- |"]
    for name, field in properties.items():
        default = f"`{json.dumps(field['default'])}`" if "default" in field else ""
        description = field.get("description") or defs.get(field.get("$ref", "").rsplit("/", 1)[-1], {}).get(
            "description", ""
        )
        rows.append(
            f"| `{name}` | {_cell(_type_of(field, defs))} | {'yes' if name in required else 'no'} | "
            f"{_cell(default)} | {_cell(description)} |"
        )
    return "\n".join(rows) + "\n"


def _template_examples() -> dict[str, tuple[str, dict[str, Any]]]:
    """The first catalog template using each node type: (template title, the node)."""
    from catalog.loader import load_all

    examples: dict[str, tuple[str, dict[str, Any]]] = {}
    for definition in load_all():
        for node in definition.graph["nodes"]:
            examples.setdefault(node["type"], (definition.title, node))
    return examples


def _placeholder(field: dict[str, Any]) -> Any:
    if "default" in field:
        return field["default"]
    if field.get("examples"):
        return field["examples"][0]
    return {"string": "...", "integer": 1, "number": 1, "boolean": True, "array": [], "object": {}}.get(
        str(field.get("type")), "..."
    )


def _example(node: dict[str, Any], examples: dict[str, tuple[str, dict[str, Any]]]) -> str:
    if node["type"] in examples:
        title, example = examples[node["type"]]
        shown = {k: example[k] for k in ("id", "type", "label", "config") if k in example}
        return (
            f"From the template *{title}* (`${{...}}` are the template's parameters, `{{{{ ... }}}}` expressions "
            "read the run's data):\n\n" + _json_block(shown)
        )
    schema = node["config_schema"]
    config = {name: _placeholder(schema["properties"][name]) for name in schema.get("required", [])}
    return "A node of a graph, with its required settings:\n\n" + _json_block(
        {"id": "step1", "type": node["type"], "label": node["label"], "config": config}
    )


def _errors_of(node: dict[str, Any]) -> str:
    if node["is_trigger"]:
        return (
            "A trigger does not fail as a step: input that does not match it is refused before a run starts "
            "([invalid-input](../problems/invalid-input.md), [payload-invalid](../problems/payload-invalid.md)).\n"
        )
    calls_a_service = node["category"] == "Integrations" or node["type"] == "http.request"
    kinds = SERVICE_KINDS if calls_a_service else LOCAL_KINDS
    lines = [f"- [{kind}](../errors/{kind.replace('_', '-')}.md)" for kind in kinds]
    intro = (
        "A failure of this step has one of these kinds; the run page links the one it had:"
        if calls_a_service
        else "This step calls no outside service; a failure is one of:"
    )
    error_edge = "error" in node["outputs"]
    tail = (
        "\nGive the step an `error` edge to handle a failure in the workflow instead of failing the run.\n"
        if error_edge
        else ""
    )
    return intro + "\n\n" + "\n".join(lines) + "\n" + tail


NODE_GUIDES = {
    "trigger": ("Triggers and webhooks", "../triggers.md"),
    "webhook.respond": ("Webhooks that answer with the result", "../webhook-answers.md"),
    "http.request": ("HTTP APIs", "../integrations/http.md"),
}


def node_page(node: dict[str, Any], examples: dict[str, tuple[str, dict[str, Any]]]) -> str:
    outputs = ", ".join(f"`{o}`" for o in node["outputs"]) or "none"
    parts = [
        f"# {node['label']} (`{node['type']}`)\n",
        f"{node['description']}\n",
        f"**Category:** {node['category']} · **Inputs:** {', '.join(node['inputs']) or 'none (a trigger)'} · "
        f"**Outgoing edges (handles):** {outputs}\n",
    ]
    guide = NODE_GUIDES.get(node["type"]) or (NODE_GUIDES["trigger"] if node["is_trigger"] else None)
    if guide:
        parts.append(f"More about it: [{guide[0]}]({guide[1]}).\n")
    if node.get("connection_type"):
        parts.append(
            f"Needs a connection of type `{node['connection_type']}`: see "
            f"[its setup guide](../integrations/{node['connection_type']}.md).\n"
        )
    parts += [
        "## Settings\n",
        _fields_table(node["config_schema"]),
        "\nText settings may contain `{{ ... }}` expressions (see [the editor](../editor.md)).\n",
        "## Output\n",
        "What the step passes on (a sample; later steps read it as `steps.<step id>.output.<field>`):\n",
        _json_block(node["sample_output"]),
        "## Example\n",
        _example(node, examples),
        "## Common errors\n",
        _errors_of(node),
    ]
    return "\n".join(parts)


def nodes_index(nodes: list[dict[str, Any]]) -> str:
    rows = ["# Node types\n", "Every step a workflow can have, as the builder's palette lists them.\n"]
    category = None
    for node in nodes:
        if node["category"] != category:
            category = node["category"]
            rows.append(f"\n## {category}\n")
        rows.append(f"- [{node['label']}]({node['type']}.md) (`{node['type']}`): {node['description']}")
    return "\n".join(rows) + "\n"


# --- error kinds and problem types ------------------------------------------------------------------------------


def error_pages() -> dict[str, str]:
    """One page per kind, from its section of docs/errors.md (the one place each kind is explained)."""
    text = (DOCS / "errors.md").read_text(encoding="utf-8")
    pages = {}
    for anchor, heading, body in KIND_SECTION.findall(text):
        pages[anchor] = (
            f"# {heading}\n\n{body.strip()}\n\nAll kinds of step failure: [Why a step failed](../errors.md).\n"
        )
    return pages


# Where a problem's subject is explained at length, by the slug's first word or the whole slug.
PROBLEM_SEE_ALSO = {
    "bad-signature": ("Triggers and webhooks", "../triggers.md"),
    "unknown-webhook": ("Triggers and webhooks", "../triggers.md"),
    "payload": ("Triggers and webhooks", "../triggers.md"),
    "dedupe-key-too-long": ("Triggers and webhooks", "../triggers.md"),
    "forbidden": ("Roles and security", "../security.md"),
    "unauthorized": ("Roles and security", "../security.md"),
    "role-too-high": ("Roles and security", "../security.md"),
    "invalid-graph": ("The editor", "../editor.md"),
    "invalid-workflow-file": ("Workflow files", "../workflow-files.md"),
    "key-in-trash": ("Workflow files", "../workflow-files.md"),
    "version-conflict": ("Versions", "../versions.md"),
    "run-failed": ("Why a step failed", "../errors.md"),
    "invalid-connection": ("Integrations", "../integrations/index.md"),
    "oauth": ("Integrations", "../integrations/index.md"),
    "template-outdated": ("Templates", "../templates.md"),
}


def _see_also(slug: str) -> str:
    found = PROBLEM_SEE_ALSO.get(slug) or PROBLEM_SEE_ALSO.get(slug.split("-")[0])
    return f"See also: [{found[0]}]({found[1]}).\n\n" if found else ""


def problem_pages() -> dict[str, str]:
    from platform_api.problem_types import PROBLEM_TYPES

    return {
        slug: (
            f"# {problem.title} (`{slug}`)\n\n"
            f"An API answer of `application/problem+json` whose `type` ends in `problems/{slug}`.\n\n"
            f"## What to do\n\n{problem.fix}\n\n"
            f"{_see_also(slug)}"
            "Its `detail` says what happened to this request, its `hint` what to do, and `errors` (when there) "
            "names each field by its path. All problem types: [API problems](index.md).\n"
        )
        for slug, problem in PROBLEM_TYPES.items()
    }


def problems_index() -> str:
    from platform_api.problem_types import PROBLEM_TYPES

    rows = [
        "# API problems\n",
        "Every error of the API is an RFC 9457 problem (`application/problem+json`): a `type` that links its page "
        "here, a `title`, the HTTP `status`, a human `detail`, often a `hint` and the `errors` by field path.\n",
        "| type | title |",
        "| --- | --- |",
    ]
    rows += [f"| [`{slug}`]({slug}.md) | {_cell(p.title)} |" for slug, p in sorted(PROBLEM_TYPES.items())]
    return "\n".join(rows) + "\n"


# --- API reference ----------------------------------------------------------------------------------------------


def _schema_summary(schema: dict[str, Any], components: dict[str, Any]) -> str:
    name = schema.get("$ref", "").rsplit("/", 1)[-1]
    resolved = components.get(name, schema)
    properties = resolved.get("properties")
    if not properties:
        return f"`{name or _type_of(schema, {})}`\n"
    required = set(resolved.get("required", []))
    rows = [f"`{name}`:\n", "| field | type | required | description |", "| --- | --- | --- | --- |"]
    for field, spec in properties.items():
        rows.append(
            f"| `{field}` | {_cell(_type_of(spec, {}))} | {'yes' if field in required else 'no'} | "
            f"{_cell(spec.get('description', ''))} |"
        )
    return "\n".join(rows) + "\n"


def _answer(code: str, response: dict[str, Any]) -> str:
    schema = response.get("content", {}).get("application/json", {}).get("schema")
    shape = f" (`{_type_of(schema, {})}`)" if schema and ("$ref" in schema or "items" in schema) else ""
    return f"`{code}` {_cell(response.get('description', ''))}{shape}"


def api_pages(document: dict[str, Any]) -> dict[str, tuple[str, str]]:
    """tag slug -> (tag, page): every operation of the tag, its parameters, body and answers."""
    components = document.get("components", {}).get("schemas", {})
    by_tag: dict[str, list[str]] = {}
    for path, item in sorted(document["paths"].items()):
        for method, op in item.items():
            if method not in ("get", "post", "put", "patch", "delete"):
                continue
            tag = (op.get("tags") or ["other"])[0]
            lines = [f"## `{method.upper()} {path}`\n", f"{op.get('summary', '')}\n"]
            if op.get("description"):
                lines.append(op["description"].strip() + "\n")
            params = op.get("parameters", [])
            if params:
                lines += ["| parameter | in | required | description |", "| --- | --- | --- | --- |"]
                lines += [
                    f"| `{p['name']}` | {p['in']} | {'yes' if p.get('required') else 'no'} | "
                    f"{_cell(p.get('description', ''))} |"
                    for p in params
                ]
                lines.append("")
            body = op.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema")
            if body:
                lines += ["**Body:** " + _schema_summary(body, components)]
            answers = ", ".join(_answer(code, r) for code, r in op.get("responses", {}).items())
            lines.append(f"**Answers:** {answers}\n")
            by_tag.setdefault(tag, []).append("\n".join(lines))
    return {
        _slug(tag): (tag, f"# {tag}\n\nPart of the [API reference](index.md).\n\n" + "\n".join(ops))
        for tag, ops in sorted(by_tag.items())
    }


def api_index(document: dict[str, Any], pages: dict[str, tuple[str, str]]) -> str:
    info = document.get("info", {})
    rows = [
        "# API reference\n",
        f"{info.get('title', 'Flowyard')} {info.get('version', '')}: made from the API's OpenAPI document "
        "(`python -m platform_api.openapi`). Send `Authorization: Bearer <login token or API key>`; bodies are "
        "JSON; errors are [problems](../problems/index.md). A running platform also serves the document at "
        "`/openapi.json`.\n",
    ]
    rows += [f"- [{tag}]({slug}.md)" for slug, (tag, _page) in sorted(pages.items())]
    return "\n".join(rows) + "\n"


# --- MkDocs events ----------------------------------------------------------------------------------------------

_GENERATED: dict[str, str] = {}


def generated_pages() -> dict[str, str]:
    """Every page made from the code: its path below docs/ -> its Markdown (tests/test_docs.py accepts links
    to them from the hand-written pages)."""
    from flow_factory.nodes import describe_all
    from platform_api.openapi import openapi_document

    pages: dict[str, str] = {}
    nodes = describe_all()
    examples = _template_examples()
    pages["nodes/index.md"] = nodes_index(nodes)
    for node in nodes:
        pages[f"nodes/{node['type']}.md"] = node_page(node, examples)
    for anchor, page in error_pages().items():
        pages[f"errors/{anchor}.md"] = page
    pages["problems/index.md"] = problems_index()
    for slug, page in sorted(problem_pages().items()):
        pages[f"problems/{slug}.md"] = page
    document = openapi_document()
    apis = api_pages(document)
    pages["api/index.md"] = api_index(document, apis)
    for slug, (_tag, page) in sorted(apis.items()):
        pages[f"api/{slug}.md"] = page
    return pages


def on_config(config: MkDocsConfig) -> MkDocsConfig:
    _GENERATED.clear()
    _GENERATED.update(generated_pages())
    sections = {"nodes": "Node types", "errors": "Step failures", "problems": "API problems", "api": "API reference"}
    generated_nav: dict[str, list[str]] = {title: [] for title in sections.values()}
    generated_nav["Step failures"].append("errors.md")
    for src_uri in _GENERATED:  # each section's index first: generated_pages puts it there
        generated_nav[sections[src_uri.split("/")[0]]].append(src_uri)
    config.nav = [*(config.nav or []), *({t: p} for t, p in generated_nav.items()), *_more(config)]
    return config


def _more(config: MkDocsConfig) -> list[dict[str, list[str]]]:
    """Pages of docs/ that mkdocs.yml's nav does not name yet (a page just written): listed under More."""
    named = set(re.findall(r"[\w./-]+\.md", json.dumps(config.nav)))
    others = sorted(
        path.relative_to(DOCS).as_posix()
        for path in DOCS.rglob("*.md")
        if "hooks" not in path.parts and path.relative_to(DOCS).as_posix() not in named
    )
    return [{"More": others}] if others else []


def on_files(files: Files, config: MkDocsConfig) -> Files:
    for src_uri, content in _GENERATED.items():
        files.append(File.generated(config, src_uri, content=content))
    return files


_LINK = re.compile(r"(!?)\[([^\]]*)\]\(((?!https?://|mailto:|#)[^)#\s]+)(#[^)\s]*)?\)")


def on_page_markdown(markdown: str, page: Any, config: MkDocsConfig, files: Files) -> str:
    """A link from docs/ to a file of the repository outside it (README.md, the code) has no page on the
    site: it keeps its text and names the file, instead of a link that would 404."""
    docs_dir = Path(config.docs_dir).resolve()
    source = docs_dir / page.file.src_uri

    def outside(match: re.Match[str]) -> str:
        bang, text, target, _anchor = match.groups()
        if (source.parent / target).resolve().is_relative_to(docs_dir):
            return match.group(0)
        return f"{text} (`{Path(target).name}` in the repository)" if not bang else text

    markdown = _LINK.sub(outside, markdown)
    return markdown.replace(ROLES_MARKER, roles_table()) if ROLES_MARKER in markdown else markdown


ROLES_MARKER = "<!-- roles-table: made from platform_api/permissions.py at build time -->"


def roles_table() -> str:
    """Who may do what, from the one table the API checks (platform_api/permissions.py)."""
    from platform_api.permissions import ROLE_PERMISSIONS, SCOPE_PERMISSIONS, Permission

    roles = list(ROLE_PERMISSIONS)
    rows = [
        "| permission | " + " | ".join(role.value for role in roles) + " |",
        "| --- |" + " --- |" * len(roles),
    ]
    for permission in Permission:
        marks = " | ".join("yes" if permission in ROLE_PERMISSIONS[role] else "no" for role in roles)
        rows.append(f"| `{permission.value}` | {marks} |")
    rows += ["", "| API key scope | permissions (within its role) |", "| --- | --- |"]
    rows += [
        f"| `{scope.value}` | {', '.join(sorted(f'`{p.value}`' for p in permissions))} |"
        for scope, permissions in SCOPE_PERMISSIONS.items()
    ]
    return "\n".join(rows) + "\n"
