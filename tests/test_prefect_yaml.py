"""`prefect.yaml` declares Flowyard's system deployments: the commands of docs/prefect-yaml.md, run as written
against an empty Prefect server of the test's own (behind an auth string, on SQLite and on PostgreSQL), create
them, and the code's own deployment functions find nothing to change in what they created."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from prefect.client.orchestration import SyncPrefectClient

from tests.conftest import BACKENDS
from tests.support import free_port

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent
PREFECT_YAML = ROOT / "prefect.yaml"
DOC = ROOT / "docs" / "prefect-yaml.md"
AUTH_STRING = "operator:prefect-yaml-test"


class PrefectServer:
    """`prefect server start` on a database of its own, requiring an auth string, as an operator runs one."""

    def __init__(self, home: Path, database_url: str) -> None:
        self.port = free_port()
        self.api_url = f"http://127.0.0.1:{self.port}/api"
        self.log = home / "prefect.log"
        self.env = {
            **os.environ,
            "PREFECT_HOME": str(home / "prefect-home"),
            "PREFECT_SERVER_DATABASE_CONNECTION_URL": database_url,
            "PREFECT_SERVER_API_AUTH_STRING": AUTH_STRING,
            "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
            "DO_NOT_TRACK": "1",
            "PREFECT_UI_ENABLED": "false",
            "PREFECT_LOGGING_LEVEL": "WARNING",
        }
        for name in ("PREFECT_API_URL", "PREFECT_API_AUTH_STRING", "PREFECT_PROFILES_PATH"):
            self.env.pop(name, None)
        argv = [sys.executable, "-m", "prefect", "server", "start", "--host", "127.0.0.1", "--port", str(self.port)]
        with open(self.log, "ab") as log:
            self.process = subprocess.Popen(
                argv, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )

    def wait_ready(self, timeout: float = 180) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.process.poll() is None, self.log.read_text()[-3000:]
            try:
                if httpx.get(self.api_url + "/health", timeout=2, auth=self.auth).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.3)
        raise AssertionError(f"Prefect did not start in {timeout}s:\n{self.log.read_text()[-3000:]}")

    @property
    def auth(self) -> httpx.BasicAuth:
        user, password = AUTH_STRING.split(":", 1)
        return httpx.BasicAuth(user, password)

    def operator_env(self) -> dict[str, str]:
        """What an operator's shell holds: the server's URL and auth string, and this virtual environment's
        `prefect` on the PATH."""
        return {
            **self.env,
            "PREFECT_API_URL": self.api_url,
            "PREFECT_API_AUTH_STRING": AUTH_STRING,
            "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        }

    def client(self) -> SyncPrefectClient:
        return SyncPrefectClient(self.api_url, auth_string=AUTH_STRING, httpx_settings={"timeout": 60})

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()


@pytest.fixture(scope="module", params=BACKENDS)
def prefect_server(request, tmp_path_factory) -> Iterator[PrefectServer]:
    home = tmp_path_factory.mktemp(f"prefect-yaml-{request.param}")
    if request.param == "postgres":
        url = request.getfixturevalue("postgres").create("prefect").replace("postgresql://", "postgresql+asyncpg://")
    else:
        url = f"sqlite+aiosqlite:///{home / 'prefect.db'}"
    server = PrefectServer(home, url)
    try:
        server.wait_ready()
        yield server
    finally:
        server.stop()


def operator_commands() -> str:
    """The shell block of docs/prefect-yaml.md that deploys."""
    blocks = re.findall(r"```bash\n(.*?)```", DOC.read_text(), re.S)
    [block] = [block for block in blocks if "deploy --all" in block]
    return block


def run_operator_commands(server: PrefectServer) -> None:
    result = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", operator_commands()],
        cwd=ROOT,
        env=server.operator_env(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, f"exit {result.returncode}\n{result.stdout[-4000:]}\n{result.stderr[-4000:]}"


def declared() -> list[dict[str, Any]]:
    return yaml.safe_load(PREFECT_YAML.read_text())["deployments"]


def snapshot(client: SyncPrefectClient) -> dict[str, dict[str, Any]]:
    """Every deployment on the server by `flow/name`, without what differs between two writes of the same
    declaration: ids, timestamps, the version Prefect's CLI computes, an interval's anchor (the time of writing)."""
    flows = {flow.id: flow.name for flow in client.read_flows()}
    deployments = {}
    for deployment in client.read_deployments():
        fields = deployment.model_dump(
            mode="json",
            exclude={"id", "created", "updated", "created_by", "updated_by", "last_polled", "status", "version"},
        )
        for schedule in fields["schedules"]:
            for key in ("id", "created", "updated", "deployment_id"):
                schedule.pop(key, None)
            schedule["schedule"].pop("anchor_date", None)
        if limit := fields.pop("global_concurrency_limit"):
            fields["concurrency_limit"] = limit["limit"]
        schema = fields["parameter_openapi_schema"]
        schema["required"] = sorted(schema.get("required", []))  # absent and empty say the same
        deployments[f"{flows[deployment.flow_id]}/{deployment.name}"] = fields
    return deployments


def test_prefect_deploy_all_creates_the_system_deployments_on_an_empty_server(prefect_server: PrefectServer):
    run_operator_commands(prefect_server)

    with prefect_server.client() as client:
        pool = client.read_work_pool("flowyard")
        queue = client.read_work_queue_by_name("flowyard-system", work_pool_name="flowyard")
        deployments = {deployment.name: deployment for deployment in client.read_deployments()}
    assert pool.type == "flowyard" and queue.concurrency_limit == 1
    assert sorted(deployments) == sorted(spec["name"] for spec in declared())
    for spec in declared():
        deployment = deployments[spec["name"]]
        assert deployment.entrypoint == spec["entrypoint"]
        assert (deployment.work_pool_name, deployment.work_queue_name) == ("flowyard", "flowyard-system")
        assert deployment.global_concurrency_limit and deployment.global_concurrency_limit.limit == 1
        assert deployment.tags == spec["tags"] and not deployment.paused
        assert deployment.pull_steps == [{"prefect.deployments.steps.set_working_directory": {"directory": "."}}]
    [hourly] = deployments["hourly-retention"].schedules
    assert (hourly.slug, hourly.active, hourly.schedule.interval.total_seconds()) == ("hourly", True, 3600)
    assert deployments["on-key-rotation"].schedules == []
    assert deployments["on-key-rotation"].parameter_openapi_schema["required"] == ["tenant_id"]


def test_the_code_finds_nothing_to_change_in_what_prefect_yaml_deployed(prefect_server: PrefectServer):
    """What `flowyard up` and `flowyard worker` do at start-up (`ensure_maintenance_deployment`, which creates
    the re-encryption deployment too), over what `prefect deploy --all` made: the same deployments, field for
    field, and the same pool and queue. A name, schedule, tag, limit or description changed on one side only
    fails here."""
    from engine.maintenance import ensure_maintenance_deployment

    run_operator_commands(prefect_server)  # again: an operator re-deploys after an upgrade
    with prefect_server.client() as client:
        before = snapshot(client)
        ids = {deployment.name: deployment.id for deployment in client.read_deployments()}
        ensure_maintenance_deployment(client, work_pool="flowyard")
        after = snapshot(client)
        assert {deployment.name: deployment.id for deployment in client.read_deployments()} == ids
        assert client.read_work_pool("flowyard").type == "flowyard"
        queue = client.read_work_queue_by_name("flowyard-system", work_pool_name="flowyard")
        assert queue.concurrency_limit == 1
    assert sorted(before) == ["flowyard-maintenance/hourly-retention", "flowyard-reencrypt/on-key-rotation"]
    for name in before:
        changed = {key: (before[name][key], after[name].get(key)) for key in before[name]}
        changed = {key: values for key, values in changed.items() if values[0] != values[1]}
        assert not changed, f"{name}: prefect.yaml and the code disagree on {changed}"
    assert after == before
