"""A line of status text that changes often (ten times a second while training) and costs only
its own repaint each time.

Textual's ``Static.update`` lays out the whole screen after every change, in case the text
needs more or fewer lines. For a status line that changes many times a second and almost
never changes height, that layout was most of what the app's UI thread did while training
(benchmarks/soak.py measures it): ``show`` repaints only this widget, and asks for a layout
only when the text now wraps to a different number of lines.
"""

from __future__ import annotations

from textual.geometry import Size
from textual.visual import VisualType
from textual.widgets import Static


class LiveText(Static):
    """A Static for text replaced often: unchanged text costs nothing, a change one repaint."""

    def __init__(self, content: VisualType = "", **kwargs) -> None:
        super().__init__(content, **kwargs)
        self._shown: VisualType = content

    def update(self, content: VisualType = "", *, layout: bool = True) -> None:
        self._shown = content
        super().update(content, layout=layout)

    def show(self, content: VisualType) -> None:
        """Put ``content`` on screen; a layout only if its height (wrapped to the widget's
        width) changes."""
        if isinstance(content, str) and content == self._shown:  # (Content compares its text only)
            return
        width = self.content_size.width
        before = self.get_content_height(Size(0, 0), Size(0, 0), width) if width else None
        self.update(content, layout=False)
        if before is None or self.get_content_height(Size(0, 0), Size(0, 0), width) != before:
            self.refresh(layout=True)
