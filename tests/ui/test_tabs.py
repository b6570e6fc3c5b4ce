"""Adding a tab is adding one ChartuiTab subclass: it gets a place in the tab bar, a number
key, a command in the palette, and the active run, with no other file edited."""

from __future__ import annotations

import pytest
from textual.widgets import Static

from chartui.ui.app import ChartuiApp
from chartui.ui.runs import RunHandle
from chartui.ui.tabs.base import ChartuiTab, remove_tab, tab_classes
from tests.conftest import has_focus, until


@pytest.fixture
def notes_tab():
    class NotesTab(ChartuiTab, can_focus=True):
        """A tab a test adds: it names the active run."""

        TAB_ID, TAB_TITLE, TAB_ORDER = "notes", "Notes", 60

        def compose(self):
            yield Static("no run", id="notes-text")

        def active_run_changed(self, run: RunHandle | None) -> None:
            self.query_one("#notes-text", Static).update(f"notes on {run.name}" if run else "no run")

    yield NotesTab
    remove_tab(NotesTab)


@pytest.mark.asyncio
async def test_a_tab_is_one_class(notes_tab, tiny_run):
    assert [t.TAB_ID for t in tab_classes()][-1] == "notes"
    app = ChartuiApp()
    async with app.run_test(size=(120, 36)) as pilot:
        assert "Go to Notes" in {c.title for c in app.get_system_commands(app.screen)}
        await pilot.press("6")
        tab = app.query_one(notes_tab)
        await until(pilot, lambda: app.query_one("#tabs").active == "notes" and has_focus(app, tab))
        app.open_run(str(tiny_run))
        await until(pilot, lambda: "notes on tiny-lstm" in str(app.query_one("#notes-text").render()))


@pytest.mark.asyncio
async def test_focus_that_lands_in_a_hidden_tab_never_switches_tabs():
    # A deferred focus landing in a tab the user just left used to show that tab again, and two
    # such moves crossing kept the tabs flipping for good (the app pegged a core).
    from chartui.ui.tabs.gates import GatesTab
    from chartui.ui.tabs.train import TrainTab

    app = ChartuiApp()
    async with app.run_test(size=(120, 36)) as pilot:
        train, gates = app.query_one(TrainTab), app.query_one(GatesTab)
        await until(pilot, lambda: has_focus(app, train))
        gates.focus_default()  # into the hidden Gates tab...
        train.focus_default()  # ...and back, both in flight at once
        gates.focus_default()
        shown = set()
        for _ in range(20):
            await pilot.pause()
            shown.add(app.query_one("#tabs").active)
        assert shown == {"train"}
        await until(pilot, lambda: has_focus(app, train))
