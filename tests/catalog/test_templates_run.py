"""CI check of every template on the whole platform (real Prefect and worker, SQLite and PostgreSQL):
it instantiates with its default parameters, its steps get the workspace's connections (to the local
fakes), and it runs in test mode with its trigger's sample input — every run started at once, so the
dispatcher and the worker batch them — ending as the template's test plan says (completed, or waiting
at a delay or an approval), with no failed step."""

from __future__ import annotations

import json
import os
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest

from catalog.loader import load_all
from tests.catalog.support import TcpRelay, connect_everything, wait_for_runs
from tests.conftest import POSTGRES_ENV
from tests.support import Api

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")
KPI_TABLE = """CREATE TABLE orders (id serial PRIMARY KEY, total numeric(10, 2) NOT NULL, created_at date NOT NULL);
INSERT INTO orders (total, created_at) VALUES (86.50, '2026-11-17'), (120.00, '2026-11-18'), (40.25, '2026-11-22')"""


@pytest.fixture(scope="module")
def shop_database(request) -> str | None:
    """The database the SQL templates query: a PostgreSQL one (SQLite files are refused by default)."""
    if not os.environ.get(POSTGRES_ENV):
        return None
    url = request.getfixturevalue("postgres").create("shop")
    with psycopg.connect(url) as conn:
        conn.execute(KPI_TABLE)
    address = urlsplit(url)
    relay = TcpRelay(address.hostname or "127.0.0.1", address.port or 5432)
    request.addfinalizer(relay.close)
    relayed = address._replace(netloc=f"{address.username}@127.0.0.1:{relay.port}")
    return urlunsplit(relayed).replace("postgresql://", "postgresql+psycopg://")


def test_every_template_runs_in_test_mode(stack, fake_services, shop_database):
    api = Api(stack.api_url).signup("Template Checks")
    connect_everything(api, fake_services, shop_database)
    templates = [t for t in load_all() if shop_database or "sql" not in t.integrations]
    problems: dict[str, str] = {}

    started = {}
    for template in templates:
        made = api.post(f"/api/v1/templates/{template.slug}/instantiate", json={"name": template.title})
        if made.status_code != 201 or not made.json()["setup_complete"] or not made.json()["workflow"]["valid"]:
            problems[template.slug] = f"instantiate: {made.status_code} {made.text[:800]}"
            continue
        workflow = made.json()["workflow"]
        trigger = next(n for n in workflow["graph"]["nodes"] if n["type"].startswith("trigger."))
        run = api.post(
            f"/api/v1/workflows/{workflow['id']}/runs", json={"input": trigger["config"]["sample"], "mode": "test"}
        )
        if run.status_code != 202:
            problems[template.slug] = f"run: {run.status_code} {run.text[:800]}"
            continue
        started[run.json()["run_id"]] = template

    runs = wait_for_runs(api, list(started))

    for run_id, template in started.items():
        run = runs[run_id]
        failed = [s for s in run["steps"] if s["status"] == "failed"]
        if run["status"] != template.test.expect or failed:
            problems[template.slug] = (
                f"ended {run['status']} (expected {template.test.expect}); "
                f"error: {json.dumps(run['error'])}; failed steps: {json.dumps(failed)[:1500]}"
            )
    assert not problems, "\n".join(f"{slug}: {problem}" for slug, problem in problems.items())
    if not shop_database:
        pytest.skip(f"the SQL templates need {POSTGRES_ENV} (their database); every other template passed")
