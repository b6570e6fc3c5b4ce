"""A DataTable that keeps what it drew when a tab switch shows it again.

DataTable drops every cached row and cell on each Resize and each style change, and a switch
to the Compare tab brings both: Textual sends a Resize to every widget a layout
shows, whether its size changed or not, and the table takes the focus, which restyles it. So
each look at the tab redrew every cell (Rich renders each one: about 25 ms of the UI thread
for five runs at 120x40), the largest single cost of the switch. Here a Resize to the same
size is dropped, and a change of focus or hover keeps the caches: DataTable already keys them
by those states, so the focused and the unfocused table are each drawn once.

``fill`` shows a new set of rows by replacing only the cells that changed when the rows keep
their keys, rather than clearing the table (which redraws and re-measures every row); a table
whose columns all have fixed widths measures nothing.

Kept caches must not pile up: every cached cell, row and line is keyed by DataTable's count of
data changes, so after a change none of them can be drawn again, yet DataTable keeps them until
its caches are full (10,000 cells, 1,000 rows, 1,000 lines). Its clearing on every focus change
used to hide that; here they are dropped at the first draw after a change.
"""

from __future__ import annotations

from textual import events
from textual.geometry import Region, Size
from textual.strip import Strip
from textual.widget import Widget
from textual.widgets import DataTable


class SteadyTable(DataTable):
    """A DataTable that ignores a Resize to the size it already has."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._sizes: tuple[Size, Size, Size] | None = None
        self._styled: tuple[str, int, frozenset[str]] | None = None
        """What the caches depend on that their keys do not carry: the theme (its name, and
        Textual's count of its changes, which an ANSI palette change bumps) and the table's
        classes. Classes of its parents and structural pseudo-classes (``:odd``, ``:last-child``)
        are not watched: the app styles no table by them."""
        self._filled: list[tuple[str, ...]] = []
        """The rows as ``fill`` last showed them: (key, cell, ...)."""
        self._drawn_count = 0
        """DataTable's count of data changes when the table was last drawn."""

    def render_lines(self, crop: Region) -> list[Strip]:
        if self._update_count != self._drawn_count:  # what the caches hold can never be drawn again
            self._drawn_count = self._update_count
            for cache in (self._row_render_cache, self._cell_render_cache, self._row_renderable_cache, self._line_cache):
                cache.clear()
        return super().render_lines(crop)

    def fill(self, rows: list[tuple[str, ...]]) -> None:
        """Show ``rows``, each (key, cell, ...). The same keys in the same order have only their
        changed cells replaced (a column widens to fit); anything else refills the table."""
        if [r[0] for r in rows] == [r[0] for r in self._filled]:
            columns = list(self.columns)
            fitted = any(c.auto_width for c in self.columns.values())  # else nothing to measure
            for new, old in zip(rows, self._filled):
                for column, value, before in zip(columns, new[1:], old[1:]):
                    if value != before:
                        self.update_cell(new[0], column, value, update_width=fitted)
        else:
            self.clear()
            for key, *cells in rows:
                self.add_row(*cells, key=key)
        self._filled = rows

    def _on_resize(self, event: events.Resize) -> None:
        sizes = (event.size, event.virtual_size, event.container_size)
        if sizes == self._sizes:
            event.prevent_default()  # DataTable's own handler would drop every cached row
        self._sizes = sizes

    def notify_style_update(self) -> None:
        styled = (self.app.theme, getattr(self.app, "_css_update_count", 0), frozenset(self.classes))
        if styled != self._styled:
            self._styled = styled
            super().notify_style_update()  # drops every cache
            return
        Widget.notify_style_update(self)
        self._get_styles_to_render_cell.cache_clear()  # cursor and header styles: not in any key
        self.refresh()
