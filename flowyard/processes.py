"""Child processes of `flowyard up`: start one, wait until it is healthy, restart it when it crashes, stop it with
everything it started.

Each child runs in its own session (so a Ctrl-C in the terminal reaches only the supervisor, which
stops the children in order), asks Linux to SIGTERM it if the supervisor dies (so a killed
supervisor leaves no orphans), and appends its output to its own log file.
"""

from __future__ import annotations

import ctypes
import os
import shlex
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import httpx

PR_SET_PDEATHSIG = 1
_LIBC = ctypes.CDLL(None, use_errno=True) if sys.platform.startswith("linux") else None


class ChildFailed(Exception):
    """A child exited, or did not become healthy in time."""

    def __init__(self, child: ChildProcess, message: str) -> None:
        super().__init__(message)
        self.child = child


def port_is_free(host: str, port: int) -> bool:
    """Whether a server could listen on host:port now (SO_REUSEADDR, as uvicorn binds)."""
    try:
        family = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0][0]
        with socket.socket(family, socket.SOCK_STREAM) as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((host, port))
        return True
    except OSError:
        return False


def describe_exit(code: int) -> str:
    """`exited with code 1`, or `was killed by SIGKILL` for a negative status."""
    if code < 0:
        try:
            return f"was killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"was killed by signal {-code}"
    return f"exited with code {code}"


def _die_with_parent(parent_pid: int):
    """Runs in the child between fork and exec: SIGTERM me when my parent dies."""

    def preexec() -> None:
        if _LIBC is not None:
            _LIBC.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
        if os.getppid() != parent_pid:  # the parent died before prctl took effect
            os._exit(1)

    return preexec


@dataclass(frozen=True)
class HealthCheck:
    """Where a child answers 200 once it is up, what is trusted there, and the name its certificate must carry."""

    url: str
    verify: ssl.SSLContext | bool = True
    server_name: str | None = None

    def client(self) -> httpx.Client:
        return httpx.Client(verify=self.verify, timeout=2.0)


class ChildProcess:
    def __init__(self, name: str, argv: list[str], env: dict[str, str], log_path: Path) -> None:
        self.name = name
        self.argv = argv
        self.env = env
        self.log_path = log_path
        self.process: subprocess.Popen[bytes] | None = None
        self._log_offset = 0

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process else None

    def start(self) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "ab") as log:
            self._log_offset = log.tell()
            stamp = datetime.now(UTC).isoformat(timespec="seconds")
            log.write(f"\n=== {stamp} flowyard starts: {shlex.join(self.argv)}\n".encode())
            log.flush()
            self.process = subprocess.Popen(
                self.argv,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=_die_with_parent(os.getpid()),
            )

    def returncode(self) -> int | None:
        """The exit status once the child has exited (negative: killed by that signal), else None.

        The child is not reaped, so its process-group id cannot be reused before `stop` kills the group.
        """
        if self.process is None or self.process.returncode is not None:
            return self.process.returncode if self.process else None
        try:
            info = os.waitid(os.P_PID, self.process.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
        except ChildProcessError:
            return self.process.poll()
        if info is None:
            return None
        return info.si_status if info.si_code == os.CLD_EXITED else -info.si_status

    def wait_healthy(
        self,
        url: str,
        timeout: float,
        interval: float = 0.5,
        *,
        verify: ssl.SSLContext | bool = True,
        server_name: str | None = None,
    ) -> None:
        """Wait until GET url answers 200; fail early if the child exits or its certificate does not verify.

        `server_name`: the name an https url's certificate is checked against (and sent as SNI), when the url
        reaches the child by another name (a local address)."""
        check = HealthCheck(url, verify, server_name)
        deadline = time.monotonic() + timeout
        with check.client() as client:
            while time.monotonic() < deadline:
                code = self.returncode()
                if code is not None:
                    raise ChildFailed(self, f"{self.name} {describe_exit(code)} before it became healthy")
                if self.answers(check, client):
                    return
                time.sleep(interval)
        raise ChildFailed(self, f"{self.name} did not answer 200 at {url} within {timeout:.0f} s")

    def answers(self, check: HealthCheck, client: httpx.Client) -> bool:
        """Whether the child answers 200 at the check's url now; ChildFailed if its certificate does not verify."""
        extensions = {"sni_hostname": check.server_name} if check.server_name else {}
        try:
            return client.get(check.url, extensions=extensions).status_code == 200
        except httpx.ConnectError as exc:
            if isinstance(_root_cause(exc), ssl.SSLCertVerificationError):
                raise ChildFailed(self, f"{self.name}'s certificate does not verify: {exc}") from exc
        except httpx.HTTPError:
            pass
        return False

    def stop(self, grace: float = 10.0) -> None:
        """SIGTERM the child, SIGKILL its whole process group after `grace` seconds, then reap it."""
        if self.process is None or self.process.returncode is not None:
            return
        if self.returncode() is None:
            self._send(os.kill, self.process.pid, signal.SIGTERM)
            deadline = time.monotonic() + grace
            while self.returncode() is None and time.monotonic() < deadline:
                time.sleep(0.1)
        self._send(
            os.killpg, self.process.pid, signal.SIGKILL
        )  # whatever is left: the child if it hung, its own children
        self.process.wait()

    @staticmethod
    def _send(kill: Callable[[int, int], None], pid: int, sig: signal.Signals) -> None:
        try:
            kill(pid, sig)
        except (ProcessLookupError, PermissionError):
            pass

    def log_tail(self, lines: int = 20) -> str:
        """The last lines this child wrote since it was started."""
        try:
            with open(self.log_path, "rb") as log:
                log.seek(self._log_offset)
                text = log.read().decode(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.rstrip().splitlines()[-lines:])


def _root_cause(exc: BaseException) -> BaseException:
    while (inner := exc.__cause__ or exc.__context__) is not None:
        exc = inner
    return exc


def report_failure(child: ChildProcess, message: str) -> None:
    """`flowyard up: <message>` on stderr, with the last lines the child wrote."""
    print(f"flowyard up: {message}", file=sys.stderr)
    tail = child.log_tail()
    if tail:
        print(f"--- last lines of {child.log_path} ---\n{tail}\n---", file=sys.stderr)


@dataclass(frozen=True)
class RestartPolicy:
    """How a child that exits on its own is restarted: after 1, 2, 4 ... seconds up to `max_delay`, from 1 s again
    once it stayed up `stable_after`; more than `max_restarts` crashes within `window` seconds: give up."""

    first_delay: float = 1.0
    max_delay: float = 30.0
    stable_after: float = 60.0
    max_restarts: int = 10
    window: float = 600.0
    health_timeout: float = 300.0  # a restarted child with a health check must answer 200 within this

    def delay(self, consecutive_crashes: int) -> float:
        return min(self.first_delay * 2 ** (consecutive_crashes - 1), self.max_delay)


@dataclass
class _Tended:
    """A child as the supervisor tends it."""

    health: HealthCheck | None
    started_at: float = field(default_factory=time.monotonic)
    restart_at: float | None = None  # set: backing off, restart then
    healthy_by: float | None = None  # set: restarted, not healthy yet, must be by then
    consecutive: int = 0  # crashes since it last stayed up `stable_after`
    crash_times: list[float] = field(default_factory=list)  # within the policy's window
    restarts: int = 0


class Supervisor:
    """Children in start order, restarted when they crash; stopped in reverse order.

    `log_path`: a line for every start, crash, restart and give-up (stderr gets the crashes too)."""

    def __init__(self, log_path: Path | None = None, policy: RestartPolicy | None = None) -> None:
        self.children: list[ChildProcess] = []
        self.log_path = log_path
        self.policy = policy or RestartPolicy()
        self._tended: dict[ChildProcess, _Tended] = {}

    def start(self, child: ChildProcess, health: HealthCheck | None = None) -> ChildProcess:
        """Start a child; `health`: what it answers once up, checked again when it is restarted."""
        self.children.append(child)
        self._tended[child] = _Tended(health)
        child.start()
        self._log(f"{child.name} started (pid {child.pid})")
        return child

    def run(self, interval: float = 0.5, stop: threading.Event | None = None) -> None:
        """Restart children that exit, until `stop` is set (or Ctrl-C); ChildFailed when one crash-loops."""
        stop = stop or threading.Event()
        while not stop.is_set():
            for child in self.children:
                self._tend(child)
            stop.wait(interval)

    def stop_all(self, grace: float = 10.0) -> None:
        for child in reversed(self.children):
            child.stop(grace)

    def _tend(self, child: ChildProcess) -> None:
        tended, now = self._tended[child], time.monotonic()
        if tended.restart_at is not None:
            if now >= tended.restart_at:
                self._restart(child, tended)
            return
        code = child.returncode()
        if code is not None:
            self._crashed(child, tended, describe_exit(code))
        elif tended.healthy_by is not None:
            self._check_restarted(child, tended, overdue=now > tended.healthy_by)

    def _check_restarted(self, child: ChildProcess, tended: _Tended, overdue: bool) -> None:
        assert tended.health is not None, "only a child with a health check waits to be healthy"
        with tended.health.client() as client:
            if child.answers(tended.health, client):
                tended.healthy_by = None
                self._log(f"{child.name} is healthy again (pid {child.pid})")
                return
        if overdue:
            child.stop()
            timeout = self.policy.health_timeout
            self._crashed(
                child, tended, f"did not answer 200 at {tended.health.url} within {timeout:.0f} s of a restart"
            )

    def _crashed(self, child: ChildProcess, tended: _Tended, what: str) -> None:
        child.stop(grace=0)  # reap it, and kill what it left in its process group
        now, policy = time.monotonic(), self.policy
        tended.crash_times = [t for t in tended.crash_times if now - t < policy.window] + [now]
        if len(tended.crash_times) > policy.max_restarts:
            message = (
                f"{child.name} {what}; it crashed {len(tended.crash_times)} times within {policy.window:.0f} s: "
                "giving up, stopping the others"
            )
            self._log(message)
            raise ChildFailed(child, message)
        stayed_up = now - tended.started_at >= policy.stable_after
        tended.consecutive = 1 if stayed_up else tended.consecutive + 1
        tended.restarts += 1
        delay = policy.delay(tended.consecutive)
        tended.restart_at, tended.healthy_by = now + delay, None
        message = f"{child.name} {what}; restarting in {delay:g} s (restart {tended.restarts})"
        self._log(message)
        report_failure(child, message)

    def _restart(self, child: ChildProcess, tended: _Tended) -> None:
        child.start()
        tended.started_at, tended.restart_at = time.monotonic(), None
        if tended.health is not None:
            tended.healthy_by = tended.started_at + self.policy.health_timeout
        self._log(f"{child.name} restarted (pid {child.pid})")
        print(f"flowyard up: {child.name} restarted (pid {child.pid})", file=sys.stderr)

    def _log(self, line: str) -> None:
        if self.log_path is None:
            return
        stamp = datetime.now(UTC).isoformat(timespec="seconds")
        with open(self.log_path, "a") as log:
            log.write(f"{stamp} {line}\n")
