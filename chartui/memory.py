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

And one for the pauses: Python's cyclic garbage collector walks every tracked object on each
full collection. In the app, with torch loaded, that is about 370,000 objects (137,000 of them
torch's modules and functions) and a full collection took 210-260 ms on this project's 2-core
build machine, about every 10 s while training: a key pressed then waits that long.
``settle`` (``gc.freeze`` after a collection) moves what is alive at that moment, nearly all of
it kept for good, out of the collector's reach; full collections then took about 57 ms.
Freezing also defeats CPython's own brake on full collections (one waits until the objects
promoted since the last are a quarter of those that survived it, and frozen objects do not
count), so they came every tenth middle collection: every 2 s while training, 90-140 ms each on
the UI thread, inside a quarter of all key presses. ``settle`` therefore turns automatic full
collections off; the process runs them itself (``gc.collect()``), and the app does so every
15 s at a moment without keys (chartui/ui/quiet.py), where CPython would run them in the
middle of one.

`chartui ui` caps the arenas before the app starts (chartui/console/ui_cmd.py) and the app
trims on a timer (chartui/ui/app.py); benchmarks/soak.py measures the result.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import gc
import sys

M_ARENA_MAX = -8  # glibc's mallopt parameter number
NEVER = 2**31 - 1  # a full-collection threshold no count of middle collections reaches


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
    """Give free heap memory back to the system; True if some was released.

    Worth it in a process that holds memory it no longer uses (an app between runs, one that
    follows a run), not in one that trains: a training step allocates and frees the same
    working set every time (activations, gradients), so the pages a trim releases are faulted
    in again by the next step. On the `cpu` preset in-process (a 2-core EPYC, 8 minutes), a
    trim every 30 s left the heap larger (arena 211-215 MB, 60-80 MB of it free) than no trim
    (176-194 MB, 25-50 free), at the same steps per second; the app therefore trims only while
    it does not train (chartui/ui/app.py)."""
    libc = _libc()
    return bool(libc is not None and libc.malloc_trim(0))


def settle() -> int:
    """Collect garbage, then freeze every object still alive (``gc.freeze``): later full
    collections skip them. Garbage is collected first, so none of it is frozen; an object frozen
    now that dies later inside a reference cycle is never collected, so call this only at
    moments when what is alive is meant to stay (after start-up, after loading torch). From
    then on CPython runs no full collection by itself: the caller runs ``gc.collect()`` now and
    then (see the module's docstring; Python 3.14's incremental collector has no third threshold
    and ignores this). Returns how many objects are frozen."""
    gc.collect()
    gc.freeze()
    young, middle, _full = gc.get_threshold()
    gc.set_threshold(young, middle, NEVER)
    return gc.get_freeze_count()
