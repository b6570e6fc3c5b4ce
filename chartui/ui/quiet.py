"""Keys first: work nobody asked for waits for a moment without keys.

Everything the app's UI thread does delays the next key by as long as it takes, and on a
small machine that also trains some of it is long: a full garbage collection (65-80 ms with
torch loaded, even after chartui.memory.settle), a redraw of the loss chart (25-35 ms). A
key that arrived during one of them waited for it; in a three-minute probe of tab switches
and first keys while training, a full collection fell inside 11 of the 44 slowest tenth of
the probes and inside 2 of the other 396.

The app notes the time of every key, click and paste (``Quiet.input``). Two kinds of work
then wait:

- redraws of what changes on its own (the Train tab's chart and numbers while training)
  skip their turn while an input is recent (``recent``, ``AFTER_INPUT``), so a key and its
  answer on screen are not separated by a chart nobody is looking at yet; a redraw is never
  held back longer than ``LATEST_REDRAW`` (a person holding a key still sees the run move);
- chores (``Chore``: a full garbage collection, giving free heap pages back, releasing
  removed widgets) run when they are due and no input came for ``BEFORE_CHORES``, or at
  the latest at ``OVERDUE`` times their interval, keys or not.

The clock is a parameter, so the rules are tested without waiting.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

AFTER_INPUT = 0.3
"""Seconds after an input during which redraws of what changes on its own skip their turn."""
LATEST_REDRAW = 2.0
"""Seconds a redraw may be held back by inputs at most."""
BEFORE_CHORES = 1.0
"""Seconds without input before a due chore runs."""
OVERDUE = 4.0
"""A chore this many of its intervals late runs even while keys keep coming."""


@dataclass
class Chore:
    """Something to do every ``every`` seconds at a quiet moment."""

    name: str
    every: float
    run: Callable[[], object]
    enabled: Callable[[], bool] = lambda: True
    last: float = field(default=0.0)


class Quiet:
    """When the user last pressed a key, and the chores that wait for them to stop."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self.last_input = float("-inf")
        self.chores: list[Chore] = []

    def input(self) -> None:
        """A key, click or paste arrived now."""
        self.last_input = self.clock()

    def recent(self, within: float = AFTER_INPUT) -> bool:
        """True if an input came less than ``within`` seconds ago."""
        return self.clock() - self.last_input < within

    def may_redraw(self, last_drawn: float) -> bool:
        """May a redraw of what changes on its own, last made at ``last_drawn``, run now?"""
        return not self.recent() or self.clock() - last_drawn >= LATEST_REDRAW

    def add(self, name: str, every: float, run: Callable[[], object], enabled: Callable[[], bool] = lambda: True) -> Chore:
        """A chore, first due ``every`` seconds from now."""
        chore = Chore(name, every, run, enabled, last=self.clock())
        self.chores.append(chore)
        return chore

    def run_due(self) -> list[str]:
        """Run the chores that are due, if the moment is quiet or they are overdue; their names."""
        now = self.clock()
        quiet = now - self.last_input >= BEFORE_CHORES
        done = []
        for chore in self.chores:
            late = now - chore.last
            if late >= chore.every and (quiet or late >= OVERDUE * chore.every) and chore.enabled():
                chore.last = now
                chore.run()
                done.append(chore.name)
        return done
