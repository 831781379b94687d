"""The local Prefect server hands the memory it freed back to the system (`flowyard.prefect_server`): a burst of
requests raises malloc's heap, and without a trim its RSS would stay at every new high-water mark."""

from __future__ import annotations

import subprocess
import sys

FRAGMENT_THEN_TRIM = """
import sys
from flowyard.prefect_server import trim_free_memory

def rss_mb():
    for line in open("/proc/self/status"):
        if line.startswith("VmRSS"):
            return int(line.split()[1]) // 1024

blocks = [bytes(4000) for _ in range(50_000)]  # 200 MB through malloc, not Python's small-object allocator
kept = blocks[::20]  # one in twenty stays, so the freed pages sit inside the heap, not at its top
del blocks
before = rss_mb()
assert trim_free_memory()
print(before, rss_mb())
"""


def test_freed_memory_inside_the_heap_goes_back_to_the_system():
    done = subprocess.run([sys.executable, "-c", FRAGMENT_THEN_TRIM], capture_output=True, text=True, check=True)
    before, after = map(int, done.stdout.split())
    assert before > 150  # freed, but held by malloc
    assert after < before - 100
