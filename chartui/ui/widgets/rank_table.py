"""A small table of fixed-width columns with a row cursor, drawn line by line.

The Gates tab's ranking (ten rows, three short columns) changes with every press of `g`. As a
DataTable, drawing it with new cells took 11 ms of the UI thread (Rich renders each cell and
its styles are looked up per cell; median of 60 draws, Xeon 2.8 GHz, idle). Here each line is
one strip of a few segments from styles looked up once per line: 1.5 ms. A change of rows or
cursor repaints the widget without laying out the screen.

Keys: up/down (and home/end, page up/down) move the cursor; enter, or a click on a row,
posts ``RankTable.Picked`` with the row's index. The header stays on top; when the rows do not
fit, the view follows the cursor and the mouse wheel moves it.
"""

from __future__ import annotations

from collections.abc import Sequence

from rich.segment import Segment
from rich.style import Style
from textual import events
from textual.binding import Binding
from textual.message import Message
from textual.reactive import reactive
from textual.strip import Strip
from textual.widget import Widget


def fit(text: str, width: int, right: bool) -> str:
    """``text`` in exactly ``width`` cells: cut with an ellipsis, or padded (on the left if
    ``right``). Cells are characters here: the table shows digits, signs and feature names."""
    if len(text) > width:
        text = text[: max(width - 1, 0)] + "…" if width > 0 else ""
    return text.rjust(width) if right else text.ljust(width)


class RankTable(Widget, can_focus=True):
    """Rows of fixed-width cells under a header, one row under a cursor."""

    DEFAULT_CSS = """
    RankTable {
        background: $surface;
        color: $foreground;
        height: auto;
        max-height: 100%;
        & > .rank-table--header { text-style: bold; background: $panel; color: $foreground; }
        &:ansi > .rank-table--header { background: ansi_bright_blue; color: ansi_default; }
        & > .rank-table--even-row { background: $surface-lighten-1 50%; }
        &:dark > .rank-table--even-row { background: $surface-darken-1 40%; }
        & > .rank-table--cursor {
            background: $block-cursor-blurred-background;
            color: $block-cursor-blurred-foreground;
            text-style: $block-cursor-blurred-text-style;
        }
        &:focus > .rank-table--cursor {
            background: $block-cursor-background;
            color: $block-cursor-foreground;
            text-style: $block-cursor-text-style;
        }
    }
    """
    COMPONENT_CLASSES = {"rank-table--header", "rank-table--even-row", "rank-table--cursor"}
    BINDINGS = [
        Binding("up", "move(-1)", "Row", show=False, id="rank_table.previous_row"),
        Binding("down", "move(1)", "Row", show=False, id="rank_table.next_row"),
        Binding("home", "move_to(0)", "First", show=False, id="rank_table.first_row"),
        Binding("end", "move_to(-1)", "Last", show=False, id="rank_table.last_row"),
        Binding("pageup", "page(-1)", "Page", show=False, id="rank_table.page_up"),
        Binding("pagedown", "page(1)", "Page", show=False, id="rank_table.page_down"),
        Binding("enter", "pick", "Pick", id="rank_table.pick"),
    ]

    cursor = reactive(0, layout=False)
    """The index of the row under the cursor."""

    class Picked(Message):
        """Enter, or a click, on a row: its index and its cells as they were then (the rows may
        have changed by the time the message is handled)."""

        def __init__(self, table: RankTable, row: int, cells: tuple[str, ...]) -> None:
            super().__init__()
            self.table = table
            self.row = row
            self.cells = cells

        @property
        def control(self) -> RankTable:
            return self.table

    def __init__(self, columns: Sequence[tuple[str, int, bool]], **kwargs) -> None:
        """``columns``: (label, width in cells, right-aligned) for each column."""
        super().__init__(**kwargs)
        self.columns = list(columns)
        self.rows: list[tuple[str, ...]] = []
        self._top = 0
        """The index of the first row in view (the rows below the header)."""

    # --- data ---------------------------------------------------------------------------------

    @property
    def row_count(self) -> int:
        return len(self.rows)

    def fill(self, rows: Sequence[Sequence[str]], cursor: int = 0) -> None:
        """Show ``rows`` (one string per column), the cursor on row ``cursor``. Repaints; the
        height changes (a layout) only when the number of rows does."""
        rows = [tuple(str(c) for c in row) for row in rows]
        relayout = len(rows) != len(self.rows)
        self.rows = rows
        self.set_reactive(RankTable.cursor, self.validate_cursor(cursor))
        self._follow_cursor()
        self.refresh(layout=relayout)

    # --- sizing -------------------------------------------------------------------------------

    def get_content_width(self, container, viewport) -> int:
        return sum(width + 2 for _, width, _ in self.columns)

    def get_content_height(self, container, viewport, width: int) -> int:
        return len(self.rows) + 1

    @property
    def _in_view(self) -> int:
        """How many rows fit under the header."""
        return max(self.size.height - 1, 1)

    def _follow_cursor(self) -> None:
        if self.cursor < self._top:
            self._top = self.cursor
        elif self.cursor >= self._top + self._in_view:
            self._top = self.cursor - self._in_view + 1
        self._top = self._clamped(self._top)

    def _clamped(self, top: int) -> int:
        """``top`` as a first row in view: none past the first, no empty lines past the last."""
        return max(min(top, len(self.rows) - self._in_view), 0)

    def on_resize(self, event: events.Resize) -> None:
        self._follow_cursor()

    # --- keys and mouse -----------------------------------------------------------------------

    def watch_cursor(self, cursor: int) -> None:
        self._follow_cursor()
        self.refresh()

    def validate_cursor(self, cursor: int) -> int:
        return min(max(cursor, 0), max(len(self.rows) - 1, 0))

    def action_move(self, delta: int) -> None:
        self.cursor += delta

    def action_move_to(self, row: int) -> None:
        self.cursor = row % max(len(self.rows), 1)

    def action_page(self, delta: int) -> None:
        self.cursor += delta * self._in_view

    def action_pick(self) -> None:
        if self.rows:
            self.post_message(self.Picked(self, self.cursor, self.rows[self.cursor]))

    def on_click(self, event: events.Click) -> None:
        offset = event.get_content_offset(self)
        if offset is None or offset.y < 1:  # the header, or the padding
            return
        row = self._top + offset.y - 1
        if row < len(self.rows):
            self.cursor = row
            self.post_message(self.Picked(self, row, self.rows[row]))

    def on_mouse_scroll_down(self, event: events.MouseScrollDown) -> None:
        event.stop()
        self._scroll(1)

    def on_mouse_scroll_up(self, event: events.MouseScrollUp) -> None:
        event.stop()
        self._scroll(-1)

    def _scroll(self, delta: int) -> None:
        top = self._clamped(self._top + delta)
        if top != self._top:
            self._top = top
            self.refresh()

    # --- drawing ------------------------------------------------------------------------------

    def _line(self, cells: Sequence[str], style: Style, width: int) -> Strip:
        text = "".join(" " + fit(cell, w, right) + " " for cell, (_, w, right) in zip(cells, self.columns))
        return Strip([Segment(fit(text, width, False), style)], width)

    def render_line(self, y: int) -> Strip:
        width = self.size.width
        base = self.rich_style
        if y == 0:
            header = base + self.get_component_rich_style("rank-table--header")
            return self._line([label for label, _, _ in self.columns], header, width)
        row = self._top + y - 1
        if row >= len(self.rows):
            return Strip.blank(width, base)
        style = base
        if row % 2 == 0:  # as DataTable's zebra: the first row shaded
            style += self.get_component_rich_style("rank-table--even-row")
        if row == self.cursor:
            style += self.get_component_rich_style("rank-table--cursor")
        return self._line(self.rows[row], style, width)
