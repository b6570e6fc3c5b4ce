"""Keeping a long-lived process's memory flat: glibc's allocator, told to give back what it holds.

A process that trains in one thread while another draws the screen allocates from several
glibc malloc arenas (one per thread that allocates concurrently, up to 8 per core); freed
memory stays in each arena's free lists and the resident size creeps up over hours although
nothing is leaked. Two remedies, both no-ops where the C library is not glibc (macOS,
Windows, musl):

- ``limit_arenas``: at start-up, before the worker threads exist, cap the arenas at two
  (``mallopt(M_ARENA_MAX, 2)``, what ``MALLOC_ARENA_MAX=2`` does), so frees are reused
  across threads;
- ``trim``: now and then, ``malloc_trim(0)`` returns free pages at the top of every arena
  and unused whole pages inside them to the system.

`chartui ui` caps the arenas before the app starts (chartui/console/ui_cmd.py) and the app
trims on a timer (chartui/ui/app.py); benchmarks/soak.py measures the result.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import sys

M_ARENA_MAX = -8  # glibc's mallopt parameter number


@functools.cache
def _libc() -> ctypes.CDLL | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        libc.malloc_trim  # noqa: B018 - glibc only: musl has no malloc_trim
        libc.mallopt  # noqa: B018
    except (OSError, AttributeError):
        return None
    return libc


def limit_arenas(arenas: int = 2) -> bool:
    """Cap glibc's malloc arenas for threads created from now on; True if it took effect."""
    libc = _libc()
    return bool(libc is not None and libc.mallopt(M_ARENA_MAX, arenas))


def trim() -> bool:
    """Give free heap memory back to the system; True if some was released."""
    libc = _libc()
    return bool(libc is not None and libc.malloc_trim(0))
