"""Streamed text: characters arrive from a worker thread into a buffer that a UI timer
drains about 30 times a second, so the screen keeps up with thousands of characters a
second without flooding the message queue. Optionally coloured by the probability the
model gave each character."""

from __future__ import annotations

import itertools
import threading

import numpy as np
from textual.content import Content, Span
from textual.widgets import Static

from chartui.display import buckets, printable, ramp

MAX_CHARS = 8000  # the view keeps the latest characters; older ones scroll away for good


class SampleView(Static):
    """Text that grows as a worker feeds it (``feed`` is thread-safe)."""

    DEFAULT_CSS = """
    SampleView { height: auto; }
    """

    def __init__(self, *args, colour_by_probability: bool = False, **kwargs) -> None:
        super().__init__("", *args, **kwargs)
        self._lock = threading.Lock()
        self._incoming: list[tuple[str, float]] = []
        self.generation = 0
        self.prefix = ""
        self.text = ""
        self.probs: list[float] = []
        self.colour_by_probability = colour_by_probability

    def reset(self, prefix: str = "", generation: int = 0) -> None:
        """Start over; from now on only ``feed`` calls for ``generation`` are shown."""
        with self._lock:
            self._incoming.clear()
            self.generation = generation
        self.prefix, self.text, self.probs = prefix, "", []
        self._render_now()

    def feed(self, char: str, prob: float, generation: int = 0) -> None:
        """Called from the sampling thread; characters of an older generation are dropped."""
        with self._lock:
            if generation == self.generation:
                self._incoming.append((char, prob))

    def drain(self) -> int:
        """Move buffered characters onto the screen (UI thread); returns how many."""
        with self._lock:
            items, self._incoming = self._incoming, []
        if not items:
            return 0
        self.text += "".join(c for c, _ in items)
        self.probs.extend(p for _, p in items)
        if len(self.text) > MAX_CHARS:
            cut = len(self.text) - MAX_CHARS
            self.text, self.probs = self.text[cut:], self.probs[cut:]
        self._render_now()
        return len(items)

    def set_colouring(self, on: bool) -> None:
        self.colour_by_probability = on
        self._render_now()

    def _render_now(self) -> None:
        shown = printable(self.text)
        prefix = printable(self.prefix)
        spans = [Span(0, len(prefix), "bold")] if prefix else []
        if self.colour_by_probability and shown:
            # One span per run of characters in the same colour bucket, found in one pass.
            colours = ramp(diverging=False)
            idx = buckets(self.probs, 0.0, 1.0, len(colours))
            cuts = [0, *(np.flatnonzero(np.diff(idx)) + 1).tolist(), len(idx)]
            spans.extend(Span(len(prefix) + a, len(prefix) + b, colours[idx[a]]) for a, b in itertools.pairwise(cuts))
        self.update(Content(prefix + shown, spans))
