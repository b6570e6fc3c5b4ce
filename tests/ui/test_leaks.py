"""The app gives back the widgets it removes: switching tabs for a while must not pile up
dead Footer keys (Textual keeps them through watcher entries; chartui.ui.leaks drops them)."""

from __future__ import annotations

import gc

import pytest
from textual.widgets._footer import FooterKey

from chartui.ui.app import ChartuiApp
from chartui.ui.leaks import release_closed_watchers
from tests.conftest import keys, until


def _footer_keys(app) -> tuple[int, int]:
    """(Footer keys alive in memory, Footer keys on screen)."""
    gc.collect()
    alive = sum(1 for o in gc.get_objects() if isinstance(o, FooterKey))
    return alive, len(app.screen.query(FooterKey))


@pytest.mark.asyncio
async def test_switching_tabs_leaves_no_dead_footer_keys_behind(small_corpus, home, monkeypatch):
    monkeypatch.setattr("chartui.ui.app.RELEASE_EVERY", 3600.0)  # the test releases, not the app's timer
    app = ChartuiApp(corpus=str(small_corpus))
    async with app.run_test(size=(120, 36)) as pilot:
        for _ in range(6):
            for key, tab in (("2", "generate"), ("5", "compare"), ("1", "train")):
                await keys(app, key)
                await until(pilot, lambda t=tab: app.query_one("#tabs").active == t)
                await pilot.pause()  # let the Footer recompose for the new bindings
        alive, shown = _footer_keys(app)
        assert alive > 3 * shown, "the Footer never recomposed: nothing to test"
        released = release_closed_watchers(app)
        alive, shown = _footer_keys(app)
        assert released > 0 and alive <= 2 * shown, (released, alive, shown)
