"""Keeping Textual's drawn lines out of the garbage collector's way.

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

Each line also made seven small caches when it was made, one for each way Textual may derive
a line from it (crop, divide, style, filter...), though most lines are drawn once and asked
for none: a tab switch makes about 1,900 lines, so 13,000 caches, every one an object the
collector tracks. ``lazy_strip_caches`` makes each cache when it is first asked for, the same
cache from then on. Measured in-process on 50 tab switches (a 2-core AMD EPYC without
AVX-512, Textual 8.2.8; benchmarks/strip_caches.py): a switch runs 7 collections instead of 28
(full ones: 1 in the 50 switches instead of 9) and spends 5.3 ms in the collector instead of
11.7 (medians of three runs each); a line is made in 0.9 us instead of 4.8.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

from rich.style import Style
from textual.cache import FIFOCache
from textual.strip import Strip

_original = {"divide": Strip.divide, "crop_extend": Strip.crop_extend, "__init__": Strip.__init__}


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


# Strip's caches and their sizes, as Textual 8.2 makes them in Strip.__init__.
CACHES = {
    "_divide_cache": 4,
    "_crop_cache": 16,
    "_style_cache": 16,
    "_filter_cache": 4,
    "_line_length_cache": 4,
    "_crop_extend_cache": 4,
    "_offsets_cache": 4,
}
_OTHER_SLOTS = {"_segments", "_cell_length", "_render_cache", "_link_ids", "_cell_count"}
# The class's own descriptors for those slots, before lazy_strip_caches stands in for them.
_slots = {name: Strip.__dict__[name] for name in CACHES if name in Strip.__dict__}


class _MadeOnFirstUse:
    """Stands in for one of Strip's cache slots: reading it makes the FIFOCache if the slot is
    still empty, and keeps it in the slot."""

    __slots__ = ("size", "slot")

    def __init__(self, slot: Any, size: int) -> None:
        self.slot, self.size = slot, size  # slot: the class's own member descriptor

    def __get__(self, strip: Strip | None, owner: type | None = None) -> Any:
        if strip is None:
            return self
        try:
            return self.slot.__get__(strip, owner)
        except AttributeError:  # an empty slot
            cache: FIFOCache[Any, Any] = FIFOCache(self.size)
            self.slot.__set__(strip, cache)
            return cache

    def __set__(self, strip: Strip, value: Any) -> None:
        self.slot.__set__(strip, value)


def _init(self: Strip, segments: Any, cell_length: int | None = None) -> None:
    # Strip.__init__ without the caches.
    self._segments = list(segments)
    self._cell_length = cell_length
    self._render_cache = None
    self._link_ids = None
    self._cell_count = None


def lazy_strip_caches() -> bool:
    """Make a Strip's caches when first used (idempotent; for the whole process). Returns
    False, changing nothing, where this Textual's Strip is not the one this was written for."""
    if Strip.__init__ is _init:
        return True
    if set(Strip.__slots__) != {*CACHES, *_OTHER_SLOTS} or len(_slots) != len(CACHES):
        return False
    for name, size in CACHES.items():
        setattr(Strip, name, _MadeOnFirstUse(_slots[name], size))
    Strip.__init__ = _init  # type: ignore[method-assign]
    return True


def textual_strip_caches(put: Callable[[Any, str, Any], None] = setattr) -> None:
    """Undo ``lazy_strip_caches``: Textual's own Strip, seven caches on every line (for a
    benchmark, or a test that passes ``monkeypatch.setattr`` as ``put`` to have it undone)."""
    put(Strip, "__init__", _original["__init__"])
    for name, slot in _slots.items():
        put(Strip, name, slot)
