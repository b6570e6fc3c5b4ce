"""The keys that work now, in one line at the bottom of the screen.

It shows what Textual's Footer shows (each active binding's key and description, dimmed when
disabled, the command palette's key at the end; a click presses the key), drawn as one line of
text instead of one widget per key. The Footer removes and mounts a widget for every key each
time the active bindings change, which is every tab switch and many focus moves: work on the
path of the first key pressed in a tab, and, through Textualize/textual#6666, widgets that
were never freed. Redrawing one line costs neither.
"""

from __future__ import annotations

from rich.text import Text
from textual import events
from textual.screen import Screen
from textual.widget import Widget


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

    def render(self) -> Text:
        key_style = self.get_component_rich_style("key-bar--key")
        description_style = self.get_component_rich_style("key-bar--description")
        disabled_style = self.get_component_rich_style("key-bar--disabled")
        line, palette = Text(no_wrap=True, end=""), Text(no_wrap=True, end="")
        spans: list[tuple[Text, int, int, int]] = []
        for i, (_key, display, description, enabled) in enumerate(self._keys):
            part = line
            if self._palette and i == len(self._keys) - 1:  # kept at the right end, as the Footer does
                part = palette
                part.append("▏", description_style)
            start = part.cell_len
            part.append(f" {display} ", key_style if enabled else disabled_style)
            part.append(f"{description} " if description else "", description_style if enabled else disabled_style)
            spans.append((part, start, part.cell_len, i))
        room = max(0, self.size.width - palette.cell_len)
        line.truncate(room, overflow="ellipsis", pad=True)
        # Where each key ended up: the palette's after the room left for the others, which the
        # truncation may have cut (its last cell an ellipsis).
        self._spans = [
            (start + room, end + room, i) if part is palette else (start, min(end, room - 1), i) for part, start, end, i in spans
        ]
        return line + palette

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
