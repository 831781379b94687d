"""Browser canvas benchmark: the builder on a 100-step workflow in Debian's Chromium.

Measures, each as p50 / p95 / max over repeated samples:
  drag      one mouse move of a dragged step -> the step drawn at its new place (next frame)
  connect   dropping a new connection on a handle -> the new edge drawn
  validate  one edit in a step's settings (message cleared, then restored) -> the server's verdict
            shown on the step (error badge appears, then disappears)
Each time runs from the real input event (its timeStamp, when the page received it) to the first animation
frame in which the result is on the page: what a person waits for. The seed's target is 200 ms at p95.

    python -m bench.browser_canvas [--samples 30] [--api-url http://127.0.0.1:8000]

Without --api-url it starts `flowyard up` (SQLite, no worker) in a temporary directory and stops it after.
Needs the built UI (make ui) and /usr/bin/chromium.
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial
from pathlib import Path

import httpx

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
TARGET_MS = 200
EDIT_PAUSE_MS = 300  # edits a person makes one at a time; a burst (typing) is checked once it pauses
STEPS = 100
COLUMNS = 10


def hundred_step_graph() -> dict:
    """A trigger and 99 steps in one chain, laid out as a 10 x 10 snake."""
    nodes, edges = [], []
    for i in range(STEPS):
        row, col = divmod(i, COLUMNS)
        x = (col if row % 2 == 0 else COLUMNS - 1 - col) * 300
        if i == 0:
            node = {"type": "trigger.manual", "config": {"sample": {"name": "Ada"}}}
        elif i % 2:
            node = {"type": "data.transform", "config": {"fields": {"name": "{{ trigger.name }}"}}}
        else:
            node = {"type": "util.log", "config": {"message": f"step {i} for {{{{ trigger.name }}}}"}}
        nodes.append({"id": f"s{i}", "label": f"Step {i}", "position": {"x": x, "y": row * 160}, **node})
        if i:
            edges.append({"id": f"e{i}", "source": f"s{i - 1}", "source_handle": None, "target": f"s{i}"})
    return {"nodes": nodes, "edges": edges}


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def platform(api_url: str | None) -> Iterator[str]:
    """The platform API: the given one, or `flowyard up` in a temporary directory."""
    if api_url:
        yield api_url
        return
    with tempfile.TemporaryDirectory(prefix="flowyard-bench-") as home:
        port = free_port()
        env = {
            **os.environ,
            "FLOWYARD_HOME": home,
            "FLOWYARD_API__PORT": str(port),
            "FLOWYARD_PREFECT__PORT": str(free_port()),
            "FLOWYARD_WORKER__START": "false",
        }
        env.pop("PREFECT_API_URL", None)
        with open(Path(home) / "up.log", "wb") as log:
            process = subprocess.Popen(
                [sys.executable, "-m", "flowyard.cli", "up"],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        url = f"http://127.0.0.1:{port}"
        try:
            wait_healthy(url, process)
            yield url
        finally:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout=40)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)


def wait_healthy(url: str, process: subprocess.Popen, timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"flowyard up exited with {process.returncode}")
        try:
            if httpx.get(url + "/api/v1/health", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise SystemExit(f"flowyard up did not answer within {timeout:.0f} s")


def prepare(api_url: str) -> tuple[dict, str]:
    """A new workspace holding the 100-step workflow; returns the session and the workflow id."""
    signup = httpx.post(
        api_url + "/api/v1/signup",
        json={
            "tenant_name": f"Bench {uuid.uuid4().hex[:6]}",
            "email": f"{uuid.uuid4().hex[:10]}@example.com",
            "password": "correct horse battery",
        },
        timeout=30,
    ).json()
    headers = {"Authorization": f"Bearer {signup['token']}"}
    workflow = httpx.post(
        api_url + "/api/v1/workflows",
        headers=headers,
        timeout=30,
        json={"name": "Hundred steps", "graph": hundred_step_graph()},
    ).json()
    session = {"token": signup["token"], "tenant": signup["tenant"], "email": signup["user"]["email"]}
    return session, workflow["id"]


PROBE = """done => {
  const probe = window.__probe = { start: null, result: null };
  const mark = (e) => { if (probe.start === null) probe.start = e.timeStamp; };
  // Pointer events come first and, unlike mouse events, are not stopped by the canvas' drag handling.
  for (const type of ["pointermove", "pointerup", "keydown", "input"]) {
    window.addEventListener(type, mark, { capture: true, once: true });
  }
  const check = () => {
    if (probe.start !== null && done()) probe.result = performance.now() - probe.start;
    else requestAnimationFrame(check);
  };
  requestAnimationFrame(check);
}"""


def timed(action, done_js: str, page) -> float:
    """Milliseconds from the input event that `action` sends to the first frame where `done_js` holds."""
    page.evaluate(f"({PROBE})({done_js})")
    action()
    page.wait_for_function("window.__probe.result !== null", timeout=10_000)
    return page.evaluate("window.__probe.result")


def centre(locator) -> tuple[float, float]:
    box = locator.bounding_box()
    return box["x"] + box["width"] / 2, box["y"] + box["height"] / 2


NODE_STYLE = "id => document.querySelector(`.react-flow__node[data-id='${id}']`).style.transform"


def deselect(page) -> None:
    """Closes the settings panel (nothing selected), so that every step is visible."""
    close = page.get_by_label("Close panel")
    if close.count():
        close.click()
    page.wait_for_selector("[aria-label='Step settings']", state="detached")


def measure_drags(page, samples: int) -> list[float]:
    x, y = centre(page.locator(".react-flow__node[data-id='s55'] .step-title"))
    page.mouse.move(x, y)
    page.mouse.down()
    page.mouse.move(x + 5, y + 5)  # past the drag threshold
    times = []
    for i in range(samples):
        before = page.evaluate(NODE_STYLE, "s55")
        dx = 20 if i % 2 == 0 else -20
        times.append(
            timed(partial(page.mouse.move, x + 5 + dx, y + 5), f"() => ({NODE_STYLE})('s55') !== {before!r}", page)
        )
        x += dx
    page.mouse.up()
    deselect(page)
    return times


def measure_connects(page, samples: int) -> list[float]:
    times = []
    # Forward skips (never a loop) among the first six rows: the minimap covers the bottom-right corner.
    pairs = [(a, a + skip) for skip in (2, 3) for a in range(1, 58)]
    for a, b in pairs[:samples]:
        source, target = f"s{a}", f"s{b}"
        out = page.locator(f".react-flow__node[data-id='{source}'] .react-flow__handle.source[data-handleid='default']")
        into = page.locator(f".react-flow__node[data-id='{target}'] .react-flow__handle.target")
        count = page.locator(".react-flow__edge").count()
        page.mouse.move(*centre(out))
        page.mouse.down()
        page.mouse.move(*centre(into), steps=4)
        times.append(
            timed(page.mouse.up, f"() => document.querySelectorAll('.react-flow__edge').length > {count}", page)
        )
    return times


def measure_validation(page, samples: int) -> list[float]:
    times = []
    for i in range(samples):
        node_id = f"s{2 * (i % 28) + 2}"  # a log step, in the first six rows
        deselect(page)
        page.locator(f".react-flow__node[data-id='{node_id}']").click()
        message = page.locator('[data-field="message"] textarea')
        text = message.input_value()
        badge = f"document.querySelector(`.react-flow__node[data-id='{node_id}'] .step-badge`)"
        message.focus()
        page.keyboard.press("Control+a")
        page.wait_for_timeout(EDIT_PAUSE_MS)
        times.append(timed(lambda: page.keyboard.press("Delete"), f"() => !!{badge}", page))
        page.wait_for_timeout(EDIT_PAUSE_MS)
        times.append(timed(partial(page.keyboard.insert_text, text), f"() => !{badge}", page))
    return times


def summary(name: str, times: list[float]) -> str:
    ordered = sorted(times)
    p95 = ordered[max(0, round(0.95 * len(ordered)) - 1)]
    verdict = "ok" if p95 <= TARGET_MS else "over target"
    return (
        f"{name:<9} n={len(times):<4} p50={statistics.median(times):7.1f} ms  p95={p95:7.1f} ms  "
        f"max={ordered[-1]:7.1f} ms  ({verdict})"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--samples", type=int, default=30)
    parser.add_argument("--api-url", default=os.environ.get("FLOWYARD_BENCH_API_URL"))
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    with platform(args.api_url) as api_url, sync_playwright() as playwright:
        session, workflow_id = prepare(api_url)
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1440, "height": 900})
        page.goto(api_url + "/")
        page.evaluate("s => localStorage.setItem('flowyard:session', JSON.stringify(s))", session)
        page.goto(f"{api_url}/#/workflows/{workflow_id}")
        page.reload()
        page.wait_for_function(f"document.querySelectorAll('.react-flow__node').length === {STEPS}")
        page.get_by_text("No problems").wait_for()
        results = {
            "drag": measure_drags(page, args.samples),
            "connect": measure_connects(page, args.samples),
            "validate": measure_validation(page, max(1, args.samples // 2)),
        }
        browser.close()
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(
        f"Builder canvas, {STEPS}-step workflow, Chromium headless, target p95 <= {TARGET_MS} ms "
        f"(load average at the end: {load} on {os.cpu_count()} CPUs)"
    )
    for name, times in results.items():
        print(summary(name, times))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
