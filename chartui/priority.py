"""The screen first: the thread that trains inside the app runs at a lower scheduling priority.

On a machine with few cores the trainer's threads keep every core busy, and the app's UI
thread (and a second app following the run) waits its turn for each key: hundreds of
milliseconds on two cores. Linux gives every thread its own nice value, and threads inherit
their creator's, so the training worker lowers its own priority before torch starts its
OpenMP workers; the scheduler then runs the UI at once whenever it has something to do, and
training gets everything else. Training alone loses nothing: niceness only orders threads
that compete. Elsewhere (macOS, Windows) a thread has no nice value of its own and this is a
no-op. `chartui train` in a terminal does not lower itself: the user's `nice` decides there.
"""

from __future__ import annotations

import os
import sys
import threading

LOWER_BY = 5


def lower_this_thread(by: int = LOWER_BY) -> bool:
    """Raise the calling thread's nice value by ``by`` (capped at 19); True if it took effect."""
    if not sys.platform.startswith("linux"):
        return False  # PRIO_PROCESS with a thread id means a thread only on Linux
    try:
        tid = threading.get_native_id()
        now = os.getpriority(os.PRIO_PROCESS, tid)
        os.setpriority(os.PRIO_PROCESS, tid, min(19, now + by))
    except (OSError, AttributeError):
        return False
    return True
