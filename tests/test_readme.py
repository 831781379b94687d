"""The README's promises: its curl quickstart works as written, and it lists every setting."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
from pathlib import Path

from core.settings import settings_table
from tests.support import RecordingServer

README = Path(__file__).parent.parent / "README.md"


def _section(title: str) -> str:
    text = README.read_text()
    return text.split(f"## {title}", 1)[1].split("\n## ", 1)[0]


def test_readme_lists_every_setting():
    table = _section("Settings")
    missing = [row.split("`")[1] for row in settings_table() if row.split("`")[1] not in table]
    assert not missing, f"add these settings to README.md (run `flowyard settings`): {missing}"


def run_quickstart(api_url: str, *, cacert: Path | None = None) -> None:
    """Run the README's curl quickstart against `api_url` and check what it prints. The page its http.request
    step calls is a local server, reachable through the stack's FLOWYARD_EGRESS__ALLOW (127.0.0.1/32), instead
    of the public default. `cacert`: every curl of it gets `--cacert <cacert>`, as the README's HTTPS note says."""
    script = re.search(r"```bash\n(.*?)```", _section("Quickstart with curl"), re.S).group(1)
    if cacert:
        script = f'curl() {{ command curl --cacert {shlex.quote(str(cacert))} "$@"; }}\n{script}'
    page = RecordingServer().start()
    try:
        result = subprocess.run(
            ["bash", "-euo", "pipefail", "-c", script],
            capture_output=True,
            text=True,
            timeout=180,
            env={**os.environ, "API": api_url, "PING_URL": page.url + "/welcome"},
        )
    finally:
        page.stop()
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    assert lines[0] == "published"
    assert lines[1] == "completed", result.stdout
    assert [line.split()[0] for line in lines[2:]] == ["start", "greet", "ping", "log"]
    assert '{"message": "Welcome, Ada! (the page answered 200)"}' in lines[-1]
    assert [request.path for request in page.requests] == ["/welcome"]


def test_curl_quickstart_works_as_written(stack):
    run_quickstart(stack.api_url)
