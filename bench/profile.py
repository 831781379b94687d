"""`python -m bench.profile [sqlite|postgres]`: py-spy samples the Flowyard worker, the Prefect server and
the platform API while a burst of executions runs, and prints where each spends its CPU.
Needs `py-spy` (in the test extras) and permission to ptrace the processes (root, or CAP_SYS_PTRACE).

`python -m bench.profile hops [sqlite|postgres] [N]`: N executions one at a time (after one that warms
the worker up), and the time each spent in each hop from the trigger to `ended_at` (platform-database
timestamps and Prefect's flow-run state history), per execution and as median / max."""

from __future__ import annotations

import collections
import shutil
import subprocess
import sys
import time
from pathlib import Path

from bench.flowyard_runs import HOPS, Platform, benchmark_graph
from bench.servers import TargetServer
from bench.stack import Stack, child_pid

OUT = Path(__file__).parent / "profiles"
BURST = 500


def summary(path: Path, top: int = 12) -> str:
    """Top frames by own samples and top Flowyard/Prefect functions by inclusive samples, from py-spy raw output."""
    own, inclusive, total = collections.Counter(), collections.Counter(), 0
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        frames, count = stack.split(";"), int(count)
        total += count
        own[frames[-1]] += count
        for frame in set(frames):
            if any(
                key in frame
                for key in (
                    "flow_factory",
                    "deployments",
                    "platform_api",
                    "prefect/server/",
                    "sqlalchemy/orm",
                    "prefect/task_engine",
                    "prefect/flow_engine",
                )
            ):
                inclusive[frame] += count
    lines = [f"{path.name}: {total} samples"]
    lines += [f"  own {n / total:6.1%}  {frame[:150]}" for frame, n in own.most_common(top)]
    lines += [f"  incl {n / total:5.1%}  {frame[:150]}" for frame, n in inclusive.most_common(top)]
    return "\n".join(lines)


def main(backend: str = "postgres") -> int:
    spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    OUT.mkdir(exist_ok=True)
    target = TargetServer()
    stack = Stack(backend).start()
    try:
        platform = Platform(stack)
        workflow = platform.publish(benchmark_graph(target.url))
        pids = {
            "worker": stack.worker_pid(),
            "prefect-server": stack.prefect_pid(),
            "platform-api": child_pid(stack.process.pid, "uvicorn"),
        }
        spies = [
            subprocess.Popen(
                [
                    spy,
                    "record",
                    "--pid",
                    str(pid),
                    "--format",
                    "raw",
                    "--rate",
                    "50",
                    "--nonblocking",
                    "-o",
                    str(OUT / f"{backend}-{name}.txt"),
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            for name, pid in pids.items()
        ]
        time.sleep(1)
        began = time.time()
        platform.burst(workflow, [{"key": f"p{i}", "x": 5, "tag": "prof"} for i in range(BURST)])
        platform.wait_for(workflow, ("completed", "failed"), BURST, timeout=600)
        seconds = time.time() - began
        for spy_process in spies:
            spy_process.send_signal(2)
            spy_process.wait(60)
        print(f"{BURST} executions in {seconds:.1f} s ({BURST / seconds:.1f}/s) on {backend}\n")
        for name in pids:
            print(summary(OUT / f"{backend}-{name}.txt"), "\n")
    finally:
        stack.stop()
        target.stop()
    return 0


# --- per-hop latency of single executions -------------------------------------------------------


def hops(backend: str = "postgres", n: int = 10, gap: float = 1.0) -> int:
    """n executions one after the other (each sent `gap` s after the previous one ended): the median and
    max of each hop."""
    import os
    import statistics

    target = TargetServer()
    stack = Stack(backend).start()
    try:
        platform = Platform(stack)
        workflow = platform.publish(benchmark_graph(target.url))
        rows = []
        for i in range(-1, n):  # the first one warms the worker up and is not counted
            run_id, sent = platform.trigger(workflow, {"key": f"h{i}", "x": 5, "tag": "hops"})
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline and platform.ended([run_id])[run_id][1] is None:
                time.sleep(0.05)
            time.sleep(gap)
            if i >= 0:
                rows.append(platform.hops(run_id, sent))
        load = " / ".join(f"{v:.1f}" for v in os.getloadavg())
        print(f"{n} executions one at a time on {backend}, load average {load} (median / max, ms)")
        for row in rows:
            print("  run: " + ", ".join(f"{k.split(' (')[0]} {v * 1000:.0f}" for k, v in row.items() if k in HOPS))
        for key in [k for k in rows[0]]:
            values = [r[key] * 1000 for r in rows if key in r]
            print(f"  {key:40s} {statistics.median(values):8.0f} {max(values):8.0f}")
    finally:
        stack.stop()
        target.stop()
    return 0


if __name__ == "__main__":
    if sys.argv[1:2] == ["hops"]:
        sys.exit(hops(*(sys.argv[2:3] or ["postgres"]), *[int(a) for a in sys.argv[3:4]]))
    sys.exit(main(*sys.argv[1:]))
