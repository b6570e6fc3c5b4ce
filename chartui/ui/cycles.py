"""Keeping Textual's drawn lines out of the garbage collector's full passes.

Textual caches, on each ``Strip`` (one drawn line), what it derived from it: the pieces it was
cut into, a cropped copy. Two of those derivations can be the strip itself (a cut at its own
length, a crop to its own bounds), and Textual 8.2 caches that too, so the strip refers to
itself: a reference cycle that only the cyclic collector frees. Lines live in render caches for
seconds, long enough to reach the oldest generation, so every full collection had tens of
thousands of them to free: while training, 18,000 such objects every 10 s with nothing but the
Train tab on screen, and full collections of 170-240 ms on the UI thread (benchmarks/soak.py
measured key presses that waited through them). ``break_strip_cycles`` makes both derivations
return the strip without caching it, the same result; the lines are then freed by reference
counting the moment the screen stops showing them.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from rich.style import Style
from textual.strip import Strip

_original = {"divide": Strip.divide, "crop_extend": Strip.crop_extend}


def _divide(self: Strip, cuts: Iterable[int]) -> Sequence[Strip]:
    cuts = list(cuts)
    length = self.cell_length
    if [cut for cut in cuts if cut <= length] == [length]:
        return [self]  # Textual would cache [self] on self
    return _original["divide"](self, cuts)


def _crop_extend(self: Strip, start: int, end: int, style: Style | None) -> Strip:
    if start <= 0 and end == self.cell_length:
        return self  # Textual would cache self on self
    return _original["crop_extend"](self, start, end, style)


def break_strip_cycles() -> None:
    """Stop Textual's ``Strip`` from caching itself (idempotent; for the whole process)."""
    Strip.divide = _divide  # type: ignore[method-assign]
    Strip.crop_extend = _crop_extend  # type: ignore[method-assign]
