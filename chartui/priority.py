"""Keys before steps: the thread that trains inside the app runs at a lower scheduling priority.

On a machine with few cores the trainer's threads keep every core busy, and the app's UI
thread waits its turn for each key. Linux gives every thread its own nice value, and a thread
inherits its creator's, so the app trains in a thread of its own that lowers itself before
torch starts its OpenMP workers from it. The scheduler then gives the UI thread the larger
share of a core whenever both want one (at +5 about three to one); training alone loses
nothing, since niceness only weighs threads that compete. A lowered thread cannot be raised
again without privileges, so it must be a fresh thread that ends with the training, never a
pooled one. Elsewhere (macOS, Windows) a thread has no nice value of its own and this is a
no-op. `chartui train` in a terminal does not lower itself: the user's `nice` decides there.
"""

from __future__ import annotations

import os
import sys
import threading

LOWER_BY = 5


def lower_this_thread(by: int = LOWER_BY) -> bool:
    """Set the calling thread's nice value to the process's (its main thread's) plus ``by``,
    capped at 19; True if the thread now runs below the main thread."""
    if not sys.platform.startswith("linux"):
        return False  # PRIO_PROCESS with a thread id means a thread only on Linux
    try:
        base = os.getpriority(os.PRIO_PROCESS, os.getpid())  # the main thread's id is the process's
        target = min(19, base + by)
        tid = threading.get_native_id()
        if os.getpriority(os.PRIO_PROCESS, tid) < target:
            os.setpriority(os.PRIO_PROCESS, tid, target)
        return os.getpriority(os.PRIO_PROCESS, tid) > base
    except (OSError, AttributeError):
        return False
