"""`python -m bench` runs every benchmark on SQLite and PostgreSQL and prints the table;
`python -m bench throughput` (or latency, respond, capacity, api, fairness, encryption) runs one. `--backend sqlite` limits
the backends. `throughput` also runs its Flowyard burst on a second stack with payload encryption off
(FLOWYARD_KEYS__ENCRYPT_PAYLOADS=false, for this comparison only) and prints the on/off ratio; `encryption` is
in-process (encrypt/decrypt µs per step value and per step row, next to plain JSON), once for both backends.
`python -m bench triggers` (or browser_canvas, integration_step, k8s_topology, soak) runs a standalone benchmark with
its own table; `python -m bench soak --minutes 10 --overload-minutes 2` passes its options on.

PostgreSQL is the server at FLOWYARD_BENCH_POSTGRES_URL (default postgresql://postgres@127.0.0.1:5432/postgres);
it is skipped, with a note, when it does not answer."""

from __future__ import annotations

import argparse
import sys
import time
import traceback

from bench import benchmarks, encryption, raw
from bench.servers import TargetServer
from bench.stack import Stack, postgres_available

NAMES = ("throughput", "latency", "respond", "capacity", "api", "fairness", "encryption")
IN_PROCESS = ("encryption",)  # no stack: run once, not per backend
STANDALONE = (
    "browser_canvas",
    "integration_step",
    "triggers",
    "catalog_search",
    "reports",
    "k8s_topology",
    "soak",
)  # their own tables: `python -m bench triggers`
WITH_BACKEND = ("triggers", "soak")  # standalone ones that take --backend
WITH_OPTIONS = ("soak",)  # standalone ones given the options this parser does not know (soak: --minutes ...)
HEADER = ("backend", "benchmark", "metric", "Flowyard", "raw: process worker", "raw: in-process / Prefect API", "note")


def run_backend(backend: str, names: list[str]) -> list[tuple]:
    rows: list[tuple] = []
    target = TargetServer()
    encryption_off: dict | Exception | None = None
    if "throughput" in names:  # first, on a stack of its own, so that both bursts meet a fresh stack
        began = time.time()
        try:
            encryption_off = benchmarks.throughput_encryption_off(backend, target)
        except Exception as exc:
            traceback.print_exc()
            encryption_off = exc
        print(
            f"[{backend}] throughput, encryption off, done in {time.time() - began:.0f} s", file=sys.stderr, flush=True
        )
    stack = Stack(backend, **{benchmarks.ENCRYPTION_SETTING: "true"}).start()
    try:
        raw_results = None
        for name in names:
            began = time.time()
            try:
                if name == "throughput":
                    new, raw_results = benchmarks.throughput(stack, target)
                    new += benchmarks.encryption_comparison(backend, raw_results["flowyard"], encryption_off)
                elif name == "latency":
                    in_process = (raw_results or {}).get("raw_in_process") or raw.in_process(
                        stack,
                        target.url,
                        benchmarks.SIZES[backend]["raw_in_process"],
                        benchmarks.RAW_IN_PROCESS_CONCURRENCY,
                    )
                    new = benchmarks.latency_and_overhead(stack, target, in_process)
                elif name == "capacity":
                    process = (raw_results or {}).get("raw_process") or raw.through_process_pool(
                        stack, target.url, benchmarks.SIZES[backend]["raw_process"]
                    )
                    new = benchmarks.capacity(stack, target, process)
                elif name == "respond":
                    new = benchmarks.respond_latency(stack, target)
                elif name == "fairness":
                    new = benchmarks.fairness(stack, target)
                else:
                    new = benchmarks.api_latency(stack, target)
            except Exception as exc:
                traceback.print_exc()
                new = [(name, "FAILED", "-", "-", "-", f"{type(exc).__name__}: {exc}"[:120])]
            rows.extend((backend, *row) for row in new)
            print(f"[{backend}] {name} done in {time.time() - began:.0f} s", file=sys.stderr, flush=True)
    finally:
        stack.stop()
        target.stop()
    return rows


def table(rows: list[tuple]) -> str:
    widths = [max(len(str(r[i])) for r in [HEADER, *rows]) for i in range(len(HEADER))]

    def line(r: tuple) -> str:
        return "| " + " | ".join(str(v).ljust(w) for v, w in zip(r, widths, strict=False)) + " |"

    return "\n".join([line(HEADER), "|" + "|".join("-" * (w + 2) for w in widths) + "|", *map(line, rows)])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument(
        "names", nargs="*", metavar="NAME", help=f"benchmarks to run (default: all of {', '.join(NAMES)})"
    )
    parser.add_argument("--backend", choices=("sqlite", "postgres", "both"), default="both")
    args, extra = parser.parse_known_args(argv)
    names = args.names or list(NAMES)
    if extra and not (len(names) == 1 and names[0] in WITH_OPTIONS):
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    if len(names) == 1 and names[0] in STANDALONE:
        import importlib

        sys.argv = [f"bench.{names[0]}", *(["--backend", args.backend] if names[0] in WITH_BACKEND else []), *extra]
        return importlib.import_module(f"bench.{names[0]}").main() or 0
    unknown = set(names) - set(NAMES)
    if unknown:
        parser.error(f"unknown benchmark {', '.join(sorted(unknown))}; choose from {', '.join(NAMES + STANDALONE)}")
    backends = ["sqlite", "postgres"] if args.backend == "both" else [args.backend]
    rows: list[tuple] = []
    began = time.time()
    on_stacks = [name for name in names if name not in IN_PROCESS]
    for backend in backends if on_stacks else []:
        if backend == "postgres" and not postgres_available():
            rows.append((backend, "-", "skipped: PostgreSQL does not answer", "-", "-", "-", ""))
            continue
        rows.extend(run_backend(backend, on_stacks))
    if "encryption" in names:
        started = time.time()
        try:
            new = encryption.run()
        except Exception as exc:
            traceback.print_exc()
            new = [("encryption", "FAILED", "-", "-", "-", f"{type(exc).__name__}: {exc}"[:120])]
        rows.extend(("in-process", *row) for row in new)
        print(f"[in-process] encryption done in {time.time() - started:.0f} s", file=sys.stderr, flush=True)
    print(table(rows))
    print(f"\n{len(rows)} figures in {time.time() - began:.0f} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
