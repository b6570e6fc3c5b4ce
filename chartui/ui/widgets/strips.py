"""Lines kept as (text, style) pieces and drawn over a widget's own style: how the widgets that
draw line by line (the gate heatmap, the loss chart) turn what they keep into segments."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from rich.segment import Segment
from rich.style import Style

Piece = tuple[str, Style | None]
"""Some text and its style on top of the widget's (None: the widget's own)."""


def over(base: Style, pieces: Iterable[Piece]) -> list[Segment]:
    """The segments of ``pieces`` drawn over ``base``, the widget's own style."""
    return [Segment(text, base + style if style else base) for text, style in pieces if text]


def plain(lines: Iterable[Sequence[Piece]]) -> str:
    """The lines' text without their styles (for tests and tools)."""
    return "\n".join("".join(text for text, _ in line) for line in lines)
