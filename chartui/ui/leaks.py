"""Releasing what Textual holds on to after widgets are gone.

A widget that watches a reactive of a longer-lived object (``self.watch(other, ...)``, or
``data_bind``) leaves an entry ``(widget, callback)`` in that object's watcher list. Textual
prunes the entries of closed widgets only when the watched value changes
(``Reactive._check_watchers``), so while it stays the same every removed widget, with its
render caches, stays in memory (Textualize/textual#6666). Textual's Footer was the case that
mattered: it recomposes on every change of the active bindings (each tab switch, many focus
changes) and binds each new ``FooterKey`` to its own ``compact`` reactive, which never
changes, so an app left open for an hour kept tens of thousands of dead keys and hundreds of
megabytes. The app now shows its keys with chartui.ui.widgets.key_bar instead.

``release_closed_watchers`` applies Textual's own pruning rule to every node of the app now,
without waiting for a value to change. The app calls it on a timer, so no other widget that
watches something longer-lived (a tab watches the app's active run) can pile up the same way.
"""

from __future__ import annotations

from collections.abc import Iterator

from textual.app import App
from textual.dom import DOMNode

_WATCHERS = "__watchers"  # where textual.reactive keeps an object's watchers (set with setattr)


def _nodes(app: App) -> Iterator[DOMNode]:
    yield app
    for screen in app.screen_stack:
        yield screen
        yield from screen.walk_children(with_self=False)


def _closed(entry: object) -> bool:
    """An entry ``(widget, callback)`` whose widget has closed; anything else is left alone, so
    a Textual release that stores watchers differently makes this a no-op, not a crash."""
    return isinstance(entry, tuple) and len(entry) == 2 and getattr(entry[0], "_closing", False) is True


def release_closed_watchers(app: App) -> int:
    """Drop watcher entries whose widget has closed (been removed); returns how many."""
    released = 0
    for node in _nodes(app):
        watchers = getattr(node, _WATCHERS, None)
        if not isinstance(watchers, dict):
            continue
        for entries in watchers.values():
            if isinstance(entries, list):
                keep = [entry for entry in entries if not _closed(entry)]
                released += len(entries) - len(keep)
                entries[:] = keep
    return released
