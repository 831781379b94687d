"""Child processes of `flowyard up`: start one, wait until it is healthy, stop it with everything it started.

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
import time
from collections.abc import Callable
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
        extensions = {"sni_hostname": server_name} if server_name else {}
        deadline = time.monotonic() + timeout
        with httpx.Client(verify=verify, timeout=2.0) as client:
            while time.monotonic() < deadline:
                code = self.returncode()
                if code is not None:
                    raise ChildFailed(self, f"{self.name} {describe_exit(code)} before it became healthy")
                try:
                    if client.get(url, extensions=extensions).status_code == 200:
                        return
                except httpx.ConnectError as exc:
                    if isinstance(_root_cause(exc), ssl.SSLCertVerificationError):
                        raise ChildFailed(self, f"{self.name}'s certificate does not verify: {exc}") from exc
                except httpx.HTTPError:
                    pass
                time.sleep(interval)
        raise ChildFailed(self, f"{self.name} did not answer 200 at {url} within {timeout:.0f} s")

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


class Supervisor:
    """Children in start order; stopped in reverse order."""

    def __init__(self) -> None:
        self.children: list[ChildProcess] = []

    def start(self, child: ChildProcess) -> ChildProcess:
        self.children.append(child)
        child.start()
        return child

    def watch(self, interval: float = 0.5) -> ChildProcess:
        """Block until a child exits; return it."""
        while True:
            for child in self.children:
                if child.returncode() is not None:
                    return child
            time.sleep(interval)

    def stop_all(self, grace: float = 10.0) -> None:
        for child in reversed(self.children):
            child.stop(grace)
