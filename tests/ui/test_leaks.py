"""The app gives back the widgets it removes: switching tabs for a while must not pile up
dead Footer keys (Textual keeps them through watcher entries; chartui.ui.leaks drops them)."""

from __future__ import annotations

import gc

import pytest
from textual.widgets._footer import FooterKey

from chartui.ui.app import ChartuiApp
from chartui.ui.leaks import release_closed_watchers
from tests.conftest import keys, until

TABS = (("2", "generate"), ("5", "compare"), ("1", "train"))


def _footer_keys(app) -> tuple[int, int]:
    """(Footer keys alive in memory, Footer keys on screen)."""
    gc.collect()
    alive = sum(1 for o in gc.get_objects() if isinstance(o, FooterKey))
    return alive, len(app.screen.query(FooterKey))


def _footer_settled(app) -> bool:
    """The Footer shows its keys and none of them is being removed (no recompose under way)."""
    shown = list(app.screen.query(FooterKey))
    return bool(shown) and not any(key._closing for key in shown)


async def _switch_tabs(app, pilot, rounds: int) -> None:
    for _ in range(rounds):
        for key, tab in TABS:
            await keys(app, key)
            await until(pilot, lambda t=tab: app.query_one("#tabs").active == t and _footer_settled(app))


@pytest.mark.asyncio
async def test_switching_tabs_leaves_no_dead_footer_keys_behind(small_corpus, home, monkeypatch):
    monkeypatch.setattr("chartui.ui.app.RELEASE_EVERY", 3600.0)  # the test releases, not the app's timer
    app = ChartuiApp(corpus=str(small_corpus))
    async with app.run_test(size=(120, 36)) as pilot:
        await _switch_tabs(app, pilot, 6)
        alive, shown = _footer_keys(app)
        # Once Textual frees removed widgets by itself (Textualize/textual#6666), chartui.ui.leaks can go.
        # Under load Textual folds some recomposes together, so fewer keys die: ask for a margin only.
        assert alive > 2 * shown, "dead Footer keys no longer pile up: Textual has fixed the leak"
        assert release_closed_watchers(app) > 0
        # Keys removed while messages for them were still queued close a moment later: release
        # again until only the keys on screen (and at most as many closing ones) are left.
        await until(
            pilot,
            lambda: release_closed_watchers(app) >= 0 and _footer_settled(app) and _at_most_twice_shown(app),
        )


def _at_most_twice_shown(app) -> bool:
    alive, shown = _footer_keys(app)
    return alive <= 2 * shown
