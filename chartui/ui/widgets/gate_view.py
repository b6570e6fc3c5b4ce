"""Gate views: a passage coloured per character by one unit, with a movable cursor, and a
units x characters heatmap around the cursor. They render arrays they are handed; they
compute nothing but colours (quantised into the ramp's buckets).

Without colour (NO_COLOR), the heatmap falls back to shading characters, and the passage
marks the cursor with reverse video.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from rich.style import Style
from textual.binding import Binding
from textual.content import Content, Span
from textual.geometry import Region, Spacing
from textual.message import Message
from textual.reactive import reactive
from textual.strip import Strip
from textual.widget import Widget

from chartui.display import buckets, glyph, ramp, readable_on, shade
from chartui.ui.widgets.strips import Piece, over, plain


class GateText(Widget, can_focus=True):
    """The passage, each character's background set by the chosen unit's activation."""

    DEFAULT_CSS = """
    GateText { height: auto; padding: 0 1; }
    """
    BINDINGS = [
        Binding("left", "move(-1)", "Char", show=False, id="gate_text.previous_char"),
        Binding("right", "move(1)", "Char", key_display="←→", id="gate_text.next_char"),
        Binding("home", "move_to(0)", "Start", show=False, id="gate_text.first_char"),
        Binding("end", "move_to(-1)", "End", show=False, id="gate_text.last_char"),
        # Up/down pick the unit (the Gates tab's job); bound here so the scroll view around
        # this widget does not take them for scrolling.
        Binding("up", "unit(-1)", "Unit", show=False, id="gate_text.previous_unit"),
        Binding("down", "unit(1)", "Unit", show=False, id="gate_text.next_unit"),
    ]

    cursor = reactive(0)

    class CursorMoved(Message):
        def __init__(self, position: int) -> None:
            super().__init__()
            self.position = position

    class UnitStep(Message):
        def __init__(self, delta: int) -> None:
            super().__init__()
            self.delta = delta

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.text = ""
        self.values: np.ndarray | None = None
        self.lo, self.hi, self.diverging = 0.0, 1.0, False

    def show(self, text: str, values: np.ndarray, lo: float, hi: float, *, diverging: bool) -> None:
        new_text = text != self.text  # only the text decides the height: new colours need no layout
        self.text, self.values, self.lo, self.hi, self.diverging = text, values, lo, hi, diverging
        self.cursor = min(self.cursor, max(len(text) - 1, 0))
        self.refresh(layout=new_text)

    def action_move(self, delta: int) -> None:
        if self.text:
            self.cursor = min(max(self.cursor + delta, 0), len(self.text) - 1)

    def action_unit(self, delta: int) -> None:
        self.post_message(self.UnitStep(delta))

    def action_move_to(self, position: int) -> None:
        if self.text:
            self.cursor = position % len(self.text)

    def watch_cursor(self, position: int) -> None:
        self.post_message(self.CursorMoved(position))
        self.refresh()
        self.call_after_refresh(self._follow_cursor)

    def _follow_cursor(self) -> None:
        """Scroll the view around this widget so the cursor's row stays in sight (a long
        pasted passage is taller than the screen)."""
        if not self.text or not isinstance(self.parent, Widget):
            return
        width = max(self.content_region.width, 1)
        lines = self.text[: self.cursor].split("\n")
        # each newline shows as a visible mark at the end of its line
        row = sum((len(line) + 1) // width + 1 for line in lines[:-1]) + len(lines[-1]) // width
        self.parent.scroll_to_region(Region(0, row, 1, 1), spacing=Spacing(2, 0, 2, 0), animate=False, x_axis=False)

    def render(self) -> Content:
        if self.values is None or not self.text:
            return Content("Type or paste a passage above (e to edit), then press enter to trace it.")
        colours = ramp(self.diverging)
        idx = buckets(self.values, self.lo, self.hi, len(colours))
        chars: list[str] = []
        spans: list[Span] = []
        offset = 0
        no_color = self.app.no_color
        for i, ch in enumerate(self.text):
            piece = glyph(ch) + ("\n" if ch == "\n" else "")
            colour = colours[idx[i]]
            if i == self.cursor:
                style = "reverse bold underline"
            elif no_color:
                style = ""
            else:
                style = f"{readable_on(colour)} on {colour}"
            if style:
                spans.append(Span(offset, offset + 1, style))
            chars.append(piece)
            offset += len(piece)
        return Content("".join(chars), spans, strip_control_codes=False)


REVERSE = Style(reverse=True)
BOLD_REVERSE = Style(bold=True, reverse=True)


@lru_cache(maxsize=64)
def _on(colour: str) -> Style:
    """A cell's background (the ramps have 18 colours)."""
    return Style(bgcolor=colour)


class GateHeatmap(Widget):
    """Units (rows) x characters (columns) around the cursor: the chapter's figure, in cells.

    Drawn line by line: one segment per run of cells of the same colour. As Content with a
    span per cell (about 700 at 120 columns) it cost 10-14 ms of every `g` and every unit
    move, for nine lines."""

    DEFAULT_CSS = """
    GateHeatmap { height: 1fr; }
    """

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self._lines: list[list[Piece]] = []
        """Each line as (text, style over the widget's own) pieces."""

    @property
    def plain(self) -> str:
        """What is shown, without its colours (for tests and tools)."""
        return plain(self._lines)

    def show(
        self, text: str, acts: np.ndarray, lo: float, hi: float, *, diverging: bool, cursor: int, unit: int, first_unit: int = 0
    ) -> None:
        """``acts`` is (T, H); rows start at ``first_unit`` and fill the widget's height."""
        width = max(self.size.width - 6, 10)
        rows = max(min(self.size.height - 1, acts.shape[1] - first_unit), 1)
        start = min(max(cursor - width // 2, 0), max(len(text) - width, 0))
        stop = min(start + width, len(text))
        colours = ramp(diverging)
        no_color = self.app.no_color
        header = "      " + "".join(glyph(c, show_space=True) for c in text[start:stop])
        if start <= cursor < stop:
            at = 6 + cursor - start
            lines = [[(header[:at], None), (header[at], REVERSE), (header[at + 1 :], None)]]
        else:
            lines = [[(header, None)]]
        window = acts[start:stop, first_unit : first_unit + rows]  # (W, R)
        idx = buckets(window, lo, hi, len(colours))
        for r in range(window.shape[1]):
            u = first_unit + r
            label = f"{'>' if u == unit else ' '}#{u:<3} "
            line: list[Piece] = [(label[:5], BOLD_REVERSE), (label[5:], None)] if u == unit else [(label, None)]
            if no_color:
                line.append(("".join(shade(float(v), lo, hi) for v in window[:, r]), None))
            else:
                column = idx[:, r]
                edges = np.flatnonzero(np.diff(column)) + 1  # where the colour changes
                for a, b in zip([0, *edges.tolist()], [*edges.tolist(), len(column)]):
                    line.append((" " * (b - a), _on(colours[column[a]])))
            lines.append(line)
        self._lines = lines
        self.refresh()  # CSS sets its height, never its content: no layout needed

    def render_line(self, y: int) -> Strip:
        base = self.rich_style
        width = self.size.width
        if y >= len(self._lines):
            return Strip.blank(width, base)
        return Strip(over(base, self._lines[y])).adjust_cell_length(width, base)
