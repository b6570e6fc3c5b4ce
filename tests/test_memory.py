"""The app's allocator hygiene (chartui/memory.py): glibc is told to cap its arenas and to give
free heap pages back; elsewhere both are harmless no-ops."""

from __future__ import annotations

import platform
import subprocess
import sys

import pytest

from chartui import memory

glibc = sys.platform.startswith("linux") and platform.libc_ver()[0] == "glibc"


@pytest.mark.skipif(not glibc, reason="mallopt and malloc_trim are glibc's")
def test_freed_heap_memory_goes_back_to_the_system():
    # In a fresh process: fill the heap with small blocks, free them, then trim; the resident
    # size must fall by most of what was freed (glibc alone keeps it when the top is pinned).
    code = """
import sys
from chartui import memory
def rss():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * 4096
assert memory.limit_arenas()
blocks = [bytearray(1000) for _ in range(200_000)]   # ~200 MB of small allocations
pin = bytearray(1000)                                # allocated last: pins the heap's top
full = rss()
del blocks
before = rss()
memory.trim()
after = rss()
print(full, before, after)
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    full, before, after = map(int, out.stdout.split())
    assert full - after > 150e6, (full, before, after)
    assert before - after > 100e6, "without trim the freed memory stayed resident: nothing to test"


def test_both_are_harmless_where_there_is_no_glibc(monkeypatch):
    memory._libc.cache_clear()
    monkeypatch.setattr(memory.sys, "platform", "darwin")
    try:
        assert memory.limit_arenas() is False
        assert memory.trim() is False
    finally:
        memory._libc.cache_clear()


def test_settling_freezes_what_is_alive_and_collects_the_garbage_first():
    # In a fresh process (freezing is process-wide): a reference cycle that is already garbage
    # is collected, not frozen; what is alive leaves the collector's generations, so its full
    # passes have almost nothing left to walk.
    code = """
import gc, weakref
from chartui import memory
class Node:
    pass
dead = Node(); dead.me = dead; gone = weakref.ref(dead); del dead       # a cycle: only gc frees it
alive = [Node() for _ in range(50_000)]
tracked = len(gc.get_objects())
frozen = memory.settle()
print(gone() is None, tracked, frozen, len(gc.get_objects()), any(o is alive for o in gc.get_objects()), gc.get_threshold()[2])
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    collected, tracked, frozen, left, still_walked, full_every = out.stdout.split()
    assert collected == "True"
    incremental = sys.version_info >= (3, 14)  # 3.14's collector has no third threshold
    # no automatic full passes: freezing took away CPython's own brake, the app runs them
    assert int(full_every) == memory.NEVER or incremental
    assert int(frozen) >= 50_000 and int(frozen) > 0.9 * int(tracked)
    assert int(left) < 1_000 and still_walked == "False"
