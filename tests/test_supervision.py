"""`flowyard up` keeps its children running: a child that exits is restarted with back-off and logged, a crash loop
makes it give up, and a stop is prompt even during a back-off. Real child processes (small Python scripts) under
the real Supervisor; at the end, the real `flowyard up` with its worker SIGKILLed."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from flowyard.processes import ChildFailed, ChildProcess, HealthCheck, RestartPolicy, Supervisor
from tests.conftest import _start_stack
from tests.support import Api, alive, free_port, log_lines, publish, python_child, start_run, started_pid

SLEEPER = "import time; print('st' + 'arted', flush=True); time.sleep(600)"  # split: the log header quotes the code


def wait_until(condition, timeout: float = 60, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"not within {timeout} s: {what}"
        time.sleep(0.05)


@contextmanager
def supervising(supervisor: Supervisor) -> Iterator[threading.Thread]:
    """The supervisor's loop in a thread while the test acts; then stopped, with every child."""
    stop = threading.Event()
    failures: list[BaseException] = []

    def loop() -> None:
        try:
            supervisor.run(interval=0.05, stop=stop)
        except BaseException as exc:
            failures.append(exc)

    runner = threading.Thread(target=loop, daemon=True)
    runner.start()
    try:
        yield runner
    finally:
        stop.set()
        runner.join(timeout=30)
        supervisor.stop_all(grace=5)
    assert not failures, failures


def test_a_killed_child_is_restarted_with_a_new_pid_and_logged(tmp_path, capfd):
    log = tmp_path / "supervisor.log"
    supervisor = Supervisor(log)
    child = supervisor.start(python_child(tmp_path, "sleeper", SLEEPER))
    first_pid = child.pid
    assert first_pid is not None
    with supervising(supervisor):
        wait_until(lambda: "started" in child.log_tail().splitlines(), what="the child's first start")
        os.kill(first_pid, signal.SIGKILL)
        wait_until(lambda: started_pid(log, "sleeper", "restarted") is not None, what="a restart")
        new_pid = child.pid
        assert new_pid is not None and new_pid != first_pid
        wait_until(lambda: "started" in child.log_tail().splitlines(), what="the restarted child's output")
        assert alive(new_pid) and not alive(first_pid)

    assert log_lines(log) == [
        f"sleeper started (pid {first_pid})",
        "sleeper was killed by SIGKILL; restarting in 1 s (restart 1)",
        f"sleeper restarted (pid {new_pid})",
    ]
    stderr = capfd.readouterr().err
    assert "flowyard up: sleeper was killed by SIGKILL; restarting in 1 s (restart 1)" in stderr
    assert f"--- last lines of {child.log_path} ---" in stderr
    assert not alive(new_pid)


@pytest.mark.slow
def test_a_restarted_child_with_a_health_check_is_awaited_without_holding_up_the_others(tmp_path):
    log = tmp_path / "supervisor.log"
    supervisor = Supervisor(log, RestartPolicy(health_timeout=15))
    port, closed_port = free_port(), free_port()
    web = ChildProcess(
        "web",
        [sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1", "--directory", str(tmp_path)],
        dict(os.environ),
        tmp_path / "logs" / "web.log",
    )
    supervisor.start(web, HealthCheck(f"http://127.0.0.1:{port}/"))
    mute = supervisor.start(python_child(tmp_path, "mute", SLEEPER), HealthCheck(f"http://127.0.0.1:{closed_port}/"))
    wait_until(lambda: "started" in mute.log_tail().splitlines(), what="the mute child's start")
    with supervising(supervisor):
        for child in (mute, web):
            assert child.pid is not None
            os.kill(child.pid, signal.SIGKILL)
        wait_until(lambda: started_pid(log, "web", "is healthy again") is not None, what=f"web: {log_lines(log)}")
        assert started_pid(log, "mute", "restarted") is not None
        mute_timed_out = "mute did not answer 200 at http://127.0.0.1:{}/ within 15 s of a restart; restarting in 2 s"
        wait_until(
            lambda: any(line.startswith(mute_timed_out.format(closed_port)) for line in log_lines(log)),
            timeout=120,
            what=f"mute's health timeout: {log_lines(log)}",
        )
    lines = log_lines(log)
    web_healthy = lines.index(f"web is healthy again (pid {web.pid})")
    assert web_healthy < next(n for n, line in enumerate(lines) if line.startswith(mute_timed_out.format(closed_port)))
    assert started_pid(log, "mute", "is healthy again") is None


# The first three starts exit at once, the fourth stays up past `stable_after`, then the rest exit at once again.
FLAKY = """
import pathlib, sys, time
count = pathlib.Path(sys.argv[1])
starts = int(count.read_text() or 0) + 1 if count.exists() else 1
count.write_text(str(starts))
if starts == 4:
    time.sleep(7)
sys.exit(1)
"""


@pytest.mark.slow
def test_the_back_off_doubles_up_to_its_cap_and_starts_again_once_the_child_stayed_up(tmp_path):
    log = tmp_path / "supervisor.log"
    policy = RestartPolicy(first_delay=0.1, max_delay=0.4, stable_after=5, max_restarts=100)
    supervisor = Supervisor(log, policy)
    flaky = python_child(tmp_path, "flaky", FLAKY)
    flaky.argv.append(str(tmp_path / "starts"))
    supervisor.start(flaky)

    def delays() -> list[str]:
        return [m[1] for line in log_lines(log) if (m := re.search(r"restarting in (\S+) s", line))]

    with supervising(supervisor):
        wait_until(lambda: len(delays()) >= 6, timeout=120, what=f"six restarts: {log_lines(log)}")

    assert delays()[:6] == ["0.1", "0.2", "0.4", "0.1", "0.2", "0.4"]
    assert all(line.startswith("flaky exited with code 1; ") for line in log_lines(log) if "restarting" in line)


def test_a_crash_looping_child_makes_the_supervisor_give_up_and_stop_the_others(tmp_path):
    log = tmp_path / "supervisor.log"
    supervisor = Supervisor(log, RestartPolicy(first_delay=0.05, max_restarts=3))
    steady = supervisor.start(python_child(tmp_path, "steady", SLEEPER))
    supervisor.start(python_child(tmp_path, "crasher", "print('bad config'); raise SystemExit(3)"))
    try:
        with pytest.raises(ChildFailed) as gave_up:
            supervisor.run(interval=0.05)
    finally:
        supervisor.stop_all(grace=5)

    assert gave_up.value.child.name == "crasher"
    assert str(gave_up.value) == (
        "crasher exited with code 3; it crashed 4 times within 600 s: giving up, stopping the others"
    )
    assert "bad config" in gave_up.value.child.log_tail()
    lines = log_lines(log)
    assert [line for line in lines if "restarting" in line] == [
        f"crasher exited with code 3; restarting in {delay:g} s (restart {n})"
        for n, delay in enumerate([0.05, 0.1, 0.2], start=1)
    ]
    assert lines[-1] == str(gave_up.value)
    assert steady.pid is not None and not alive(steady.pid)


# `flowyard up`'s own loop (signals, exit codes, stopping) over two children, one of which crashes at once and is
# not restarted for ten minutes.
BACKING_OFF_UP = """
import sys
from pathlib import Path
from flowyard.processes import ChildProcess, RestartPolicy, Supervisor
from flowyard.up import keep_running

home = Path(sys.argv[1])
supervisor = Supervisor(home / "supervisor.log", RestartPolicy(first_delay=600, max_delay=600))

def child(name, code):
    return ChildProcess(name, [sys.executable, "-c", code], {}, home / f"{name}.log")

def start():
    supervisor.start(child("steady", "import time; time.sleep(600)"))
    supervisor.start(child("crasher", "raise SystemExit(3)"))

sys.exit(keep_running(supervisor, start))
"""


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=lambda sig: sig.name)
def test_a_signal_during_a_back_off_stops_everything_promptly(tmp_path, sig):
    log = tmp_path / "supervisor.log"
    up = subprocess.Popen(
        [sys.executable, "-c", BACKING_OFF_UP, str(tmp_path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        wait_until(
            lambda: "crasher exited with code 3; restarting in 600 s (restart 1)" in log_lines(log)
            or up.poll() is not None,
            what="the back-off",
        )
        steady = started_pid(log, "steady")
        assert steady is not None and alive(steady), log_lines(log)
        up.send_signal(sig)
        output, _ = up.communicate(timeout=60)  # generous: the stop itself takes well under a second
    finally:
        if up.poll() is None:
            os.killpg(up.pid, signal.SIGKILL)
            up.wait()

    assert up.returncode == 0, output
    assert "Flowyard stopped." in output
    assert not alive(steady)
    assert started_pid(log, "crasher", "restarted") is None


# --- the real `flowyard up` ----------------------------------------------------------------------------------------


@pytest.fixture(scope="module", params=["sqlite"])  # supervision is the same on either database
def supervised_stack(request, tmp_path_factory):
    """A stack of this module's own: its worker gets killed."""
    yield from _start_stack(request, tmp_path_factory)


@pytest.mark.stack
def test_up_restarts_a_killed_worker_and_a_later_run_completes(supervised_stack, minimal_graph):
    log = supervised_stack.home / "logs" / "supervisor.log"
    worker = started_pid(log, "worker")
    assert worker is not None, log_lines(log)

    os.kill(worker, signal.SIGKILL)
    wait_until(lambda: started_pid(log, "worker", "restarted") is not None, timeout=120, what=f"{log_lines(log)}")

    assert "worker was killed by SIGKILL; restarting in 1 s (restart 1)" in log_lines(log)
    assert (
        "flowyard up: worker was killed by SIGKILL; restarting in 1 s (restart 1)"
        in (supervised_stack.home / "flowyard-up.log").read_text()
    )
    api = Api(supervised_stack.api_url).signup()
    run_id = start_run(api, publish(api, "after a worker crash", minimal_graph), {"name": "Ada"})
    assert api.wait_for_run(run_id, timeout=300)["status"] == "completed"
