"""The keys that work now, in one line at the bottom of the screen.

It shows what Textual's Footer shows (each active binding's key and description, dimmed when
disabled, the command palette's key at the end; a click presses the key), drawn as one line of
text instead of one widget per key. The Footer removes and mounts a widget for every key each
time the active bindings change, which is every tab switch and many focus moves: work on the
path of the first key pressed in a tab, and, through Textualize/textual#6666, widgets that
were never freed. Redrawing one line costs neither.

Where the keys do not all fit (an 80-column terminal on the Train tab), whole keys are left out
from the end, marked with an ellipsis, rather than the last one cut in half, and the help key
moves to the right beside the palette's: `?`, which lists every key, stays on screen.
"""

from __future__ import annotations

from rich.cells import cell_len
from rich.segment import Segment
from rich.style import Style
from textual import events
from textual.screen import Screen
from textual.strip import Strip
from textual.widget import Widget

HELP_KEY = "question_mark"
"""The key that lists every key: kept on screen however narrow the bar."""
MORE = " … "
"""Where keys were left out for want of room."""


class KeyBar(Widget):
    """The active bindings as ``key description`` pairs; click one to press its key."""

    DEFAULT_CSS = """
    KeyBar {
        dock: bottom;
        height: 1;
        width: 1fr;
        background: $footer-background;
        color: $footer-foreground;
        .key-bar--key { color: $footer-key-foreground; background: $footer-key-background; text-style: bold; }
        .key-bar--description { color: $footer-description-foreground; }
        .key-bar--disabled { color: $text-disabled; }
    }
    """
    COMPONENT_CLASSES = {"key-bar--key", "key-bar--description", "key-bar--disabled"}

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self._keys: list[tuple[str, str, str, bool]] = []
        """(key, its display, description, enabled) per shown binding, in order; the command
        palette's last (drawn at the right end) when ``_palette``."""
        self._palette = False
        self._spans: list[tuple[int, int, int]] = []
        """(first cell, cell after the last, index in ``_keys``) of each key as last drawn."""

    def on_mount(self) -> None:
        self.screen.bindings_updated_signal.subscribe(self, self._bindings_changed)
        self._bindings_changed(self.screen)

    def _bindings_changed(self, screen: Screen) -> None:
        if screen is not self.screen:
            return
        keys: list[tuple[str, str, str, bool]] = []
        actions: set[str] = set()
        palette: tuple[str, str, str, bool] | None = None
        for _node, binding, enabled, _tooltip in screen.active_bindings.values():
            if self.app.ENABLE_COMMAND_PALETTE and binding.key == self.app.COMMAND_PALETTE_BINDING:
                palette = (binding.key, self.app.get_key_display(binding), binding.description, enabled)
            elif binding.show and binding.action not in actions:
                actions.add(binding.action)  # one entry per action, as the Footer shows
                keys.append((binding.key, self.app.get_key_display(binding), binding.description, enabled))
        if palette is not None:
            keys.append(palette)
        if keys != self._keys or self._palette != (palette is not None):
            self._keys, self._palette = keys, palette is not None
            self.refresh()

    def _pieces(self) -> list[tuple[str, Style]]:
        """The line as (text, style) pieces, exactly as wide as the bar."""
        key_style = self.get_component_rich_style("key-bar--key")
        description_style = self.get_component_rich_style("key-bar--description")
        disabled_style = self.get_component_rich_style("key-bar--disabled")
        entries: list[list[tuple[str, Style]]] = []
        for _key, display, description, enabled in self._keys:
            entry = [(f" {display} ", key_style if enabled else disabled_style)]
            if description:
                entry.append((f"{description} ", description_style if enabled else disabled_style))
            entries.append(entry)
        cells = [sum(cell_len(text) for text, _ in entry) for entry in entries]
        # The command palette's key sits at the right end, as the Footer's does. When the rest
        # do not all fit, whole keys are dropped from the end (never one cut in half) and the
        # help key joins the palette's at the right, so `?` (every key) is always on screen.
        divider = 1 if self._palette else 0  # the "▏" before the palette's key
        right = [len(entries) - 1] if self._palette else []
        left = [i for i in range(len(entries)) if i not in right]
        width = self.size.width
        if sum(cells) + divider > width:
            help_key = next((i for i in left if self._keys[i][0] == HELP_KEY), None)
            if help_key is not None:
                left.remove(help_key)
                right.insert(0, help_key)
        room = max(0, width - divider - sum(cells[i] for i in right))
        if sum(cells[i] for i in left) > room:
            kept, used = [], len(MORE)
            for i in left:
                if used + cells[i] > room:
                    break
                kept.append(i)
                used += cells[i]
            left = kept
        pieces: list[tuple[str, Style]] = []
        spans: list[tuple[int, int, int]] = []
        at = 0
        for i in left:
            spans.append((at, at + cells[i], i))
            pieces.extend(entries[i])
            at += cells[i]
        if len(left) + len(right) < len(entries):
            pieces.append((MORE, description_style))
            at += len(MORE)
        if room > at:
            pieces.append((" " * (room - at), self.rich_style))
            at = room
        for i in right:
            if self._palette and i == len(entries) - 1:
                pieces.append(("▏", description_style))
                at += 1
            spans.append((at, at + cells[i], i))
            pieces.extend(entries[i])
            at += cells[i]
        self._spans = spans
        if at > width:  # a screen narrower than the pinned keys: cut, and say so
            line = Strip([Segment(text, style) for text, style in pieces]).crop(0, max(width - 1, 0))
            pieces = [(segment.text, segment.style or self.rich_style) for segment in line] + [("…", description_style)]
        return pieces

    def render_line(self, y: int) -> Strip:
        # One strip of a dozen segments, drawn at every tab switch: 0.2 ms, where a Rich Text
        # rendered through the console took 0.4.
        if y:
            return Strip.blank(self.size.width, self.rich_style)
        return Strip([Segment(text, style) for text, style in self._pieces()], self.size.width)

    @property
    def plain(self) -> str:
        """The line as shown, without its styles (for tests and tools)."""
        return "".join(text for text, _ in self._pieces())

    def on_click(self, event: events.Click) -> None:
        """A click on a key presses it, as the Footer's keys do."""
        for start, end, i in self._spans:
            if start <= event.x < end and self._keys[i][3]:
                self.app.simulate_key(self._keys[i][0])
                return

    @property
    def shown_keys(self) -> list[str]:
        """The keys shown, in order (for tests and tools)."""
        return [key for key, *_ in self._keys]
