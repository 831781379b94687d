"""Soak: signed webhooks at 80% of measured capacity, then 150%; accepted / shed / errors, latency, and the RSS
of every process of the stack sampled every 10 s, with its slope.

    python -m bench soak [--backend sqlite|postgres|both] [--warm-up-minutes 5] [--minutes 10] [--overload-minutes 2]

1. A stack (`flowyard up`) and a tenant with a published `trigger.webhook` (HMAC) -> `util.log` workflow, as in
   `bench.triggers`. The tenant's webhook quota (`FLOWYARD_QUOTAS__WEBHOOKS_PER_MINUTE`, 1,000/min by default)
   is lifted for this stack, so that the platform, not the quota, is what runs out.
2. Capacity: CAPACITY_CLIENTS clients send signed deliveries back to back (closed loop) for CAPACITY_SECONDS;
   capacity = deliveries answered 202 per second over it. Then the stack drains what it accepted.
3. Soak: an open loop (delivery k sent at start + k/rate, whatever the answers take, on as many kept-alive
   connections as needed) at 80% of capacity for --warm-up-minutes, again for --minutes (the measured soak), then
   at 150% for --overload-minutes. Per phase: accepted (2xx),
   shed (429, by the problem type: `tenant-overloaded` / `overloaded` are the API's load shedding, `queue-full`
   the tenant's max_queued), errors (anything else, timeouts and connection errors), p50/p99 of the accepted.
   Then a drain wait, and the executions of the workflow by status.
4. Every SAMPLE_SECONDS the RSS (/proc/<pid>/status VmRSS) of `flowyard up` and of each child it started (the
   pids from FLOWYARD_HOME/logs/supervisor.log: a restarted child is followed to its new pid). Slope: least
   squares, MB per minute, over the measured 80% phase; the warm-up's own slope is printed beside it. FLAT when
   the slope is below max(FLAT_MB_PER_MINUTE, FLAT_SHARE_PER_10_MINUTES of the mean RSS per 10 minutes), else
   GROWING. Why a warm-up: processes fill bounded caches over the first minutes of a steady load (the worker
   +1.36 MB/min over a 5-minute warm-up, then +0.00; the Prefect server's causal ordering keeps up to 10,000
   seen events); a fit over those minutes judges the filling, not the steady state.

Exits 1 when any request ended in an error (not 2xx, not 429).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import sys
import threading
import time
import uuid
from collections import Counter
from pathlib import Path
from urllib.parse import urlsplit

from bench.benchmarks import pct
from bench.flowyard_runs import Platform, chain, node
from bench.stack import Stack, postgres_available
from core.settings import ApiSettings
from platform_api.triggers.signatures import sign

CAPACITY_SECONDS = 40
CAPACITY_CLIENTS = 32  # below the API's 64 requests in flight per tenant: measures service, not shedding
SOAK_SHARE, OVERLOAD_SHARE = 0.8, 1.5
SAMPLE_SECONDS = 10
FLAT_MB_PER_MINUTE = 1.0
FLAT_SHARE_PER_10_MINUTES = 0.02
REQUEST_TIMEOUT = 60.0  # an answer slower than this counts as an error
KEEP_ALIVE_EXPIRY = ApiSettings().keep_alive_seconds - 5.0  # the sender's idle limit, below the stack API's
DRAIN_SECONDS = 900  # at most, waiting for the accepted executions to end; stops early once nothing moves
SETTINGS = {"FLOWYARD_QUOTAS__WEBHOOKS_PER_MINUTE": "10000000"}
STARTED = re.compile(r"(\S+) (?:re)?started \(pid (\d+)\)")


def log(message: str) -> None:
    print(f"[soak] {message}", file=sys.stderr, flush=True)


class Hook:
    """A published webhook workflow of a fresh tenant, and signed deliveries to it."""

    def __init__(self, stack: Stack) -> None:
        self.platform = Platform(stack)
        graph = chain(
            node("hook", "trigger.webhook", {"auth": "hmac", "rate_limit_per_minute": 60_000}),
            node("log", "util.log", {"message": "lead {{ trigger.body.email }}"}),
        )
        http = self.platform.http
        created = http.post("/api/v1/workflows", json={"name": "bench soak", "graph": graph})
        created.raise_for_status()
        self.workflow_id = created.json()["id"]
        published = http.post(f"/api/v1/workflows/{self.workflow_id}/publish")
        published.raise_for_status()
        self.secret = published.json()["webhook_secret"]  # shown once, when the endpoint is made
        self.url = http.get(f"/api/v1/workflows/{self.workflow_id}/webhook").json()["url"]
        self.run = uuid.uuid4().hex[:6]

    async def deliver(self, sender: Sender, key: str) -> tuple[str, float]:
        """(outcome, seconds): outcome is the status code, `429 <problem type>`, or the exception's name."""
        body = json.dumps({"email": f"{key}@example.com"}).encode()
        delivery = f"{self.run}-{key}"
        headers = {
            "Content-Type": "application/json",
            "X-Flowyard-Signature": sign(self.secret, body, delivery_id=delivery),
            "X-Delivery-Id": delivery,
        }
        sent = time.perf_counter()
        try:
            status, answer = await asyncio.wait_for(sender.post(body, headers), REQUEST_TIMEOUT)
        except (TimeoutError, OSError, asyncio.IncompleteReadError, ValueError) as exc:
            return type(exc).__name__, time.perf_counter() - sent
        took = time.perf_counter() - sent
        if status == 429:
            try:
                return "429 " + json.loads(answer).get("type", "").rstrip("/").rsplit("/", 1)[-1], took
            except ValueError:
                return "429", took
        return str(status), took


class Sender:
    """POSTs to one URL over kept-alive HTTP/1.1 connections, opening one more whenever none is idle (so an open
    loop never waits for a connection). Not httpx: its async pool spends time proportional to waiting requests x
    connections on every request, which with hundreds in flight made the sender, not the API, the bottleneck.

    Like httpx's `keepalive_expiry`, a connection idle for longer than the server keeps one is not used again: a
    request sent as the server's keep-alive timer closes the connection is reset, not answered."""

    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        self.host, self.port, self.path = parts.hostname or "127.0.0.1", parts.port or 80, parts.path
        self.idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter, float]] = []  # and when it went idle

    async def post(self, body: bytes, headers: dict[str, str]) -> tuple[int, bytes]:
        head = f"POST {self.path} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\nContent-Length: {len(body)}\r\n"
        request = (head + "".join(f"{k}: {v}\r\n" for k, v in headers.items()) + "\r\n").encode() + body
        while self.idle:  # an idle connection the server closed meanwhile answers nothing: take the next
            reader, writer, since = self.idle.pop()
            if time.monotonic() - since > KEEP_ALIVE_EXPIRY:
                writer.close()
                continue
            try:
                return await self._exchange(reader, writer, request)
            except (ConnectionError, asyncio.IncompleteReadError) as exc:
                if not isinstance(exc, asyncio.IncompleteReadError) or exc.partial:
                    raise
                writer.close()
        reader, writer = await asyncio.open_connection(self.host, self.port)
        return await self._exchange(reader, writer, request)

    async def _exchange(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, request: bytes
    ) -> tuple[int, bytes]:
        writer.write(request)
        status_line = await reader.readuntil(b"\r\n")
        fields = {}
        while (line := await reader.readuntil(b"\r\n")) != b"\r\n":
            name, _, value = line.decode("latin-1").partition(":")
            fields[name.strip().lower()] = value.strip()
        if "content-length" not in fields:
            raise ValueError(f"no Content-Length in the answer: {status_line!r}")
        answer = await reader.readexactly(int(fields["content-length"]))
        if fields.get("connection", "").lower() == "close":
            writer.close()
        else:
            self.idle.append((reader, writer, time.monotonic()))
        return int(status_line.split()[1]), answer

    def close(self) -> None:
        for _, writer, _ in self.idle:
            writer.close()
        self.idle.clear()


async def closed_loop(hook: Hook, clients: int, seconds: float) -> list[tuple[str, float]]:
    results: list[tuple[str, float]] = []
    stop = time.monotonic() + seconds
    sender = Sender(hook.url)

    async def loop(i: int) -> None:
        k = 0
        while time.monotonic() < stop:
            results.append(await hook.deliver(sender, f"cap{i}-{k}"))
            k += 1

    await asyncio.gather(*(loop(i) for i in range(clients)))
    sender.close()
    return results


async def open_loop(hook: Hook, name: str, rate: float, seconds: float) -> tuple[list[tuple[str, float]], float]:
    """Delivery k at start + k/rate; (results, how far behind the schedule the sender fell at worst, s)."""
    results: list[tuple[str, float]] = []
    lag = 0.0
    sender = Sender(hook.url)

    async def one(k: int) -> None:
        results.append(await hook.deliver(sender, f"{name}-{k}"))

    tasks = []
    start = time.monotonic()
    for k in range(int(rate * seconds)):
        wait = start + k / rate - time.monotonic()
        if wait > 0:
            await asyncio.sleep(wait)
        else:
            lag = max(lag, -wait)
        tasks.append(asyncio.create_task(one(k)))
    await asyncio.gather(*tasks)
    sender.close()
    return results, lag


class RssSampler(threading.Thread):
    """RSS in MB of `flowyard up` and of the children named in its supervisor.log, every SAMPLE_SECONDS."""

    def __init__(self, stack: Stack) -> None:
        super().__init__(daemon=True)
        self.stack = stack
        self.samples: list[tuple[float, dict[str, tuple[int, float]]]] = []  # (monotonic, name -> (pid, MB))
        self.phase = "capacity"
        self.stopped = threading.Event()

    def processes(self) -> dict[str, int]:
        pids = {"flowyard up": self.stack.process.pid}
        supervisor_log = self.stack.home / "logs" / "supervisor.log"
        for name, pid in STARTED.findall(supervisor_log.read_text() if supervisor_log.exists() else ""):
            pids[name] = int(pid)  # the last line of a child wins: its current pid
        return pids

    def sample(self) -> None:
        now, rss, threads = time.monotonic(), {}, {}
        for name, pid in self.processes().items():
            try:
                status = Path(f"/proc/{pid}/status").read_text()
            except OSError:
                continue
            kb = re.search(r"^VmRSS:\s+(\d+)", status, re.M)
            if kb:
                rss[name] = (pid, int(kb.group(1)) / 1024)
                threads[name] = re.search(r"^Threads:\s+(\d+)", status, re.M).group(1)
        self.samples.append((now, rss))
        log(
            f"{self.phase}: "
            + ", ".join(f"{name} {mb:.0f} MB ({threads[name]} threads)" for name, (_, mb) in rss.items())
            + f"; load average {os.getloadavg()[0]:.1f}"
        )

    def run(self) -> None:
        self.sample()
        while not self.stopped.wait(SAMPLE_SECONDS):
            self.sample()


def slope_mb_per_minute(points: list[tuple[float, float]]) -> float:
    """Least-squares slope of (seconds, MB), in MB per minute."""
    if len(points) < 2:
        return float("nan")
    n = len(points)
    mean_t, mean_y = sum(t for t, _ in points) / n, sum(y for _, y in points) / n
    var = sum((t - mean_t) ** 2 for t, _ in points)
    return sum((t - mean_t) * (y - mean_y) for t, y in points) / var * 60 if var else float("nan")


def rss_rows(sampler: RssSampler, bounds: dict[str, tuple[float, float]]) -> list[tuple]:
    def fitted(series: list[tuple[float, tuple[int, float]]], phase: str) -> list[tuple[float, float]]:
        if phase not in bounds:  # left out (`--warm-up-minutes 0`)
            return []
        start, end = bounds[phase]
        return [(t, mb) for t, (_, mb) in series if start <= t <= end]

    rows = []
    names = list(dict.fromkeys(name for _, rss in sampler.samples for name in rss))
    for name in names:
        series = [(t, rss[name]) for t, rss in sampler.samples if name in rss]
        fit = fitted(series, "soak")
        slope, warm_up_slope = slope_mb_per_minute(fit), slope_mb_per_minute(fitted(series, "warm-up"))
        mean = sum(mb for _, mb in fit) / len(fit) if fit else float("nan")
        limit = max(FLAT_MB_PER_MINUTE, FLAT_SHARE_PER_10_MINUTES * mean / 10)
        pids = list(dict.fromkeys(pid for _, (pid, _) in series))
        verdict = "-" if slope != slope else ("FLAT" if slope < limit else "GROWING")
        rows.append(
            (
                name,
                ", ".join(map(str, pids)) + (" (restarted)" if len(pids) > 1 else ""),
                f"{series[0][1][1]:.0f}",
                f"{max(mb for _, (_, mb) in series):.0f}",
                f"{series[-1][1][1]:.0f}",
                "-" if warm_up_slope != warm_up_slope else f"{warm_up_slope:+.2f}",  # nan: no warm-up
                f"{slope:+.2f}",
                f"{verdict} (limit {limit:.2f}, {len(fit)} samples)",
            )
        )
    return rows


def phase_row(name: str, offered: str, results: list[tuple[str, float]], seconds: float, note: str = "") -> tuple:
    outcomes = Counter(outcome for outcome, _ in results)
    accepted = [took for outcome, took in results if outcome.startswith("2")]
    shed = {k.removeprefix("429").strip() or "?": v for k, v in outcomes.items() if k.startswith("429")}
    errors = {k: v for k, v in outcomes.items() if not k.startswith(("2", "429"))}
    shed_note = ", ".join(f"{v} {k}" for k, v in sorted(shed.items()))
    error_note = ", ".join(f"{v} {k}" for k, v in sorted(errors.items()))
    notes = [n for n in (note, shed_note and f"shed: {shed_note}", error_note and f"errors: {error_note}") if n]
    return (
        name,
        offered,
        f"{len(accepted)} ({len(accepted) / seconds:.1f}/s)",
        sum(shed.values()),
        sum(errors.values()),
        f"{pct(accepted, 50) * 1000:.0f}",
        f"{pct(accepted, 99) * 1000:.0f}",
        "; ".join(notes),
    )


def soak(
    backend: str, warm_up_minutes: float, minutes: float, overload_minutes: float
) -> tuple[list[tuple], list[tuple], str, int]:
    """(phase rows, RSS rows, executions note, errors)."""
    began = time.time()
    stack = Stack(backend, **SETTINGS).start()
    log(f"[{backend}] stack up in {time.time() - began:.0f} s")
    sampler = RssSampler(stack)
    try:
        hook = Hook(stack)
        sampler.start()
        results = asyncio.run(closed_loop(hook, CAPACITY_CLIENTS, CAPACITY_SECONDS))
        accepted = sum(outcome.startswith("2") for outcome, _ in results)
        capacity = accepted / CAPACITY_SECONDS
        log(f"capacity {capacity:.1f} deliveries/s accepted; draining")
        rows = [
            phase_row(
                "capacity (closed loop)",
                f"{CAPACITY_CLIENTS} clients",
                results,
                CAPACITY_SECONDS,
                f"{CAPACITY_SECONDS} s; load average {os.getloadavg()[0]:.1f}",
            )
        ]
        hook.platform.wait_steady(hook.workflow_id, ("completed", "failed"), accepted, timeout=DRAIN_SECONDS, still=30)
        total, errors = accepted, rows[0][4]
        bounds = {}
        phases = (
            ("warm-up", SOAK_SHARE, warm_up_minutes),
            ("soak", SOAK_SHARE, minutes),
            ("overload", OVERLOAD_SHARE, overload_minutes),
        )
        for name, share, length in phases:
            if length <= 0:  # `--warm-up-minutes 0`, `--overload-minutes 0`: that phase is left out
                continue
            rate = share * capacity
            sampler.phase = f"{name} {share:.0%}"
            log(f"{name}: {rate:.1f}/s for {length:g} min")
            start = time.monotonic()
            results, lag = asyncio.run(open_loop(hook, name, rate, length * 60))
            bounds[name] = (start, time.monotonic())
            sampler.sample()
            rows.append(
                phase_row(
                    f"{name} {share:.0%}, {length:g} min",
                    f"{rate:.1f}",
                    results,
                    length * 60,
                    f"sender at most {lag:.1f} s behind schedule; load average {os.getloadavg()[0]:.1f}",
                )
            )
            total += sum(outcome.startswith("2") for outcome, _ in results)
            errors += rows[-1][4]
        sampler.phase = "drain"
        drain_began = time.monotonic()
        hook.platform.wait_steady(hook.workflow_id, ("completed", "failed"), total, timeout=DRAIN_SECONDS, still=60)
        statuses = _statuses(hook)
        executions = f"{total} accepted; after {time.monotonic() - drain_began:.0f} s of drain: " + ", ".join(
            f"{v} {k}" for k, v in sorted(statuses.items())
        )
        sampler.stopped.set()
        return rows, rss_rows(sampler, bounds), executions, errors
    finally:
        sampler.stopped.set()
        stack.stop()


def _statuses(hook: Hook) -> dict[str, int]:
    from sqlalchemy import func, select

    from store import Execution

    with hook.platform.sessions() as db:
        rows = db.execute(
            select(Execution.status, func.count())
            .where(Execution.workflow_id == hook.workflow_id)
            .group_by(Execution.status)
        ).all()
    return {str(getattr(status, "value", status)): count for status, count in rows}


def table(header: tuple, rows: list[tuple]) -> str:
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]

    def line(r: tuple) -> str:
        return "| " + " | ".join(str(v).ljust(w) for v, w in zip(r, widths, strict=False)) + " |"

    return "\n".join([line(header), "|" + "|".join("-" * (w + 2) for w in widths) + "|", *map(line, rows)])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench soak", description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=("sqlite", "postgres", "both"), default="both")
    parser.add_argument(
        "--warm-up-minutes", type=float, default=5, help="at 80%% of capacity, not fitted (default 5; 0: none)"
    )
    parser.add_argument("--minutes", type=float, default=10, help="then at 80%%, the RSS slope fitted (default 10)")
    parser.add_argument("--overload-minutes", type=float, default=2, help="then at 150%% (default 2; 0: none)")
    args = parser.parse_args(argv)
    if args.minutes <= 0:
        parser.error("--minutes must be more than 0: the RSS slope is fitted over the 80% phase")
    backends = ["sqlite", "postgres"] if args.backend == "both" else [args.backend]
    errors = 0
    for backend in backends:
        if backend == "postgres" and not postgres_available():
            print(f"\n{backend}: skipped, PostgreSQL does not answer")
            continue
        began, load = time.time(), os.getloadavg()
        phases, rss, executions, failed = soak(backend, args.warm_up_minutes, args.minutes, args.overload_minutes)
        errors += failed
        print(
            f"\nSoak on {backend}: {args.warm_up_minutes:g} min of warm-up and {args.minutes:g} min at 80% of "
            f"capacity, then {args.overload_minutes:g} min at 150%"
        )
        print(
            table(
                ("phase", "offered/s", "accepted", "shed (429)", "errors", "p50 ms", "p99 ms", "note"),
                phases,
            )
        )
        print(f"\nexecutions: {executions}\n")
        print(
            table(
                ("process", "pid", "start MB", "peak MB", "end MB", "warm-up slope", "slope MB/min", "verdict"),
                rss,
            )
        )
        end = os.getloadavg()
        print(
            f"\nslope over the measured 80% phase (after the warm-up), one sample per {SAMPLE_SECONDS} s; "
            f"FLAT below max({FLAT_MB_PER_MINUTE:g} MB/min, {FLAT_SHARE_PER_10_MINUTES:.0%} of the mean per 10 min). "
            f"{time.time() - began:.0f} s; load average (1/5/15 min) {load[0]:.1f}/{load[1]:.1f}/{load[2]:.1f} at "
            f"the start, {end[0]:.1f}/{end[1]:.1f}/{end[2]:.1f} at the end",
            flush=True,
        )
    if errors:
        print(f"\nFAILED: {errors} requests ended in errors (neither 2xx nor 429)")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
