"""The app gives back the widgets it removes. Textual's Footer rebuilds its keys whenever the
active bindings change (every tab switch, many focus moves) and binds each new key to the
Footer's own ``compact`` reactive; Textual drops a removed key's watcher entry only when that
value changes, which it never does, so every removed key stays in memory with its render caches
(Textualize/textual#6666). chartui.ui.leaks releases them.

Each rebuild here is awaited (``Footer.recompose``), not provoked with key presses, so the
test does not depend on how fast a loaded machine delivers keys."""

from __future__ import annotations

import gc
from typing import ClassVar

import pytest
from textual.app import App, ComposeResult
from textual.widgets import Footer, Label
from textual.widgets._footer import FooterKey

from chartui.ui.app import ChartuiApp
from chartui.ui.leaks import release_closed_watchers
from tests.conftest import until

REBUILDS = 6


def _alive_footer_keys() -> int:
    gc.collect()
    return sum(1 for o in gc.get_objects() if isinstance(o, FooterKey))


class _FooterApp(App):
    BINDINGS: ClassVar = [("a", "bell", "One"), ("b", "toggle_dark", "Two"), ("c", "quit", "Three")]

    def compose(self) -> ComposeResult:
        yield Label("body")
        yield Footer()


def _shown(footer: Footer) -> list[FooterKey]:
    return [key for key in footer.query(FooterKey) if not key._closing]


def _replaced(footer: Footer, old: list[FooterKey]) -> bool:
    """The Footer shows keys again, and none of them is one of ``old``."""
    shown = _shown(footer)
    return bool(shown) and not any(key in old for key in shown)


async def _rebuild_footer(app: App, pilot, times: int) -> int:
    """Have the Footer rebuild its keys ``times`` times, as it does when the bindings change
    (inside its own message loop: its keys bind to it there); returns how many it shows."""
    footer = app.screen.query_one(Footer)
    await until(pilot, lambda: len(_shown(footer)) > 0)
    for _ in range(times):
        old = _shown(footer)
        footer.call_later(footer.recompose)
        await until(pilot, lambda old=old: _replaced(footer, old))
        del old  # the test must not keep the removed keys alive itself
    return len(_shown(footer))


@pytest.mark.asyncio
async def test_removed_footer_keys_stay_in_memory_until_released():
    app = _FooterApp()
    async with app.run_test(size=(80, 10)) as pilot:
        shown = await _rebuild_footer(app, pilot, REBUILDS)
        bound = 3  # one key per binding, each bound to Footer.compact (the palette key is not)
        assert shown >= bound
        # If this starts failing, Textual frees removed widgets itself (#6666 fixed) and
        # chartui.ui.leaks can go.
        assert _alive_footer_keys() >= shown + bound * REBUILDS, "removed Footer keys were freed without chartui's help"
        released = release_closed_watchers(app)
        assert released >= bound * REBUILDS
        assert _alive_footer_keys() == shown
        assert release_closed_watchers(app) == 0  # nothing left to release; the shown keys are kept


@pytest.mark.asyncio
async def test_the_app_releases_removed_footer_keys_on_its_own(small_corpus, home, monkeypatch):
    monkeypatch.setattr("chartui.ui.app.RELEASE_EVERY", 0.05)
    app = ChartuiApp(corpus=str(small_corpus))
    async with app.run_test(size=(120, 36)) as pilot:
        shown = await _rebuild_footer(app, pilot, REBUILDS)
        # No call from the test: the app's timer must release the removed keys.
        await until(pilot, lambda: _alive_footer_keys() <= shown)
