"""Stopping long work from the terminal: Ctrl-C (SIGINT), SIGTERM and SIGHUP ask it to stop
after the current step (it saves a resumable checkpoint); a second Ctrl-C leaves at once."""

from __future__ import annotations

import contextlib
import signal
from collections.abc import Iterator
from typing import Protocol

from chartui.console.render import stderr_console


class Stoppable(Protocol):
    def stop(self) -> None: ...

    @property
    def stopping(self) -> bool: ...


@contextlib.contextmanager
def stop_on_signals(work: Stoppable, *, quiet: bool = False) -> Iterator[dict]:
    """While inside, the signals stop ``work``; yields a dict whose ``last`` is the last signal.
    ``quiet``: say nothing (a DDP rank other than 0)."""
    seen: dict = {}

    def handler(signum, frame):
        if work.stopping and signum == signal.SIGINT:
            raise KeyboardInterrupt  # a second Ctrl-C: leave now
        seen["last"] = signum
        work.stop()
        if not seen.get("told") and not quiet:
            seen["told"] = True
            stderr_console().print("stopping: saving a resumable checkpoint (Ctrl-C again to quit at once)", style="yellow")

    wanted = [s for s in (signal.SIGINT, signal.SIGTERM, getattr(signal, "SIGHUP", None)) if s is not None]
    previous = {s: signal.signal(s, handler) for s in wanted}
    try:
        yield seen
    finally:
        for s, h in previous.items():
            signal.signal(s, h)
