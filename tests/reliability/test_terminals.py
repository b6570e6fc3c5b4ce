"""Terminals that fight back: resizing without pause while training and streaming, a 40x12
window, pasting 10,000 characters into the gates input, a held-down temperature key."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual import events

from chartui.engine import runs
from chartui.engine.checkpoint import read_meta
from chartui.ui.app import ChartuiApp
from chartui.ui.tabs.gates import GatesTab
from chartui.ui.tabs.generate import GenerateTab
from chartui.ui.tabs.train import TrainTab
from chartui.ui.widgets.sample_view import SampleView
from tests.conftest import has_focus, keys, until
from tests.ui.test_app import TINY


@pytest.mark.asyncio
async def test_resizing_continuously_while_training_and_streaming(small_corpus, tiny_run):
    app = ChartuiApp(corpus=str(small_corpus), preset="seed", overrides={**TINY, "max_steps": 100_000})
    async with app.run_test(size=(120, 36)) as pilot:
        train = app.query_one(TrainTab)
        await keys(app, "s")
        # The app's live run, not only the tab's first step: the tab draws steps from its own
        # queue while TrainingStarted still travels up to the app, and when it lands it makes
        # the live run the active one, which would undo the open_run below.
        await until(pilot, lambda: train.history.latest is not None and app.live_run is not None)
        sizes = [(80, 24), (200, 60), (40, 12), (120, 36), (81, 25), (79, 23), (160, 50)]
        generate = app.query_one(GenerateTab)
        for i in range(60):
            # As a terminal reports a drag: one Resize event after another, no waiting between.
            width, height = sizes[i % len(sizes)]
            app.post_message(events.Resize.from_dimensions((width, height), None))
            if i == 20:  # mid-drag: generate from another run while this one trains
                app.open_run(str(tiny_run))
                await keys(app, "2")
                await until(pilot, lambda: has_focus(app, generate) and generate.run_choice == str(tiny_run))
                await keys(app, "r")
        await pilot.resize_terminal(120, 36)
        await until(pilot, lambda: not app.screen.has_class("too-small") and app.size == (120, 36))
        steps = train.history.latest["step"]
        await until(pilot, lambda: train.history.latest["step"] > steps)  # still training
        view = app.query_one("#gen-view-0", SampleView)
        shown = len(view.text)
        await until(pilot, lambda: len(view.text) > shown)  # still streaming
        app.query_one(GenerateTab).stop()
        await keys(app, "ctrl+q", "y")
        await until(pilot, lambda: not train.is_training)
        assert read_meta(Path(train.history.run) / runs.LAST).state["status"] == "stopped"


@pytest.mark.asyncio
async def test_a_40x12_terminal_gets_a_notice_not_a_broken_layout(small_corpus):
    app = ChartuiApp(corpus=str(small_corpus))
    async with app.run_test(size=(40, 12)) as pilot:
        await until(pilot, lambda: app.screen.has_class("too-small"))
        assert "needs at least 80x24" in str(app.query_one("#too-small").render())
        assert not app.query_one("#tabs").display
        await pilot.resize_terminal(100, 30)
        await until(pilot, lambda: not app.screen.has_class("too-small"))
        assert app.query_one("#tabs").display


@pytest.mark.asyncio
async def test_pasting_10000_characters_into_the_gates_input(tiny_run):
    vocab = read_meta(tiny_run / runs.BEST).run["vocab"]
    text = ("".join(c for c in vocab if c.isalpha() or c in " \n.,") * 500)[:10_000]
    app = ChartuiApp(run=str(tiny_run))
    async with app.run_test(size=(120, 36)) as pilot:
        await pilot.press("3", "e")
        area = app.query_one("#gates-input")
        area.text = ""
        app.post_message(events.Paste(text))  # as a terminal delivers it: to the app, which hands it to the focus
        await until(pilot, lambda: len(area.text) == 10_000)
        tab = app.query_one(GatesTab)
        await until(pilot, lambda: tab.trace is not None and len(tab.trace.text) == 10_000)
        unit = tab.unit
        await pilot.press("escape", "down", "right")
        assert tab.unit == (unit + 1) % 16 and app.query_one("#gates-text").cursor == 1
        scroll = app.query_one("#gates-text-scroll")
        await pilot.press("end")
        assert app.query_one("#gates-text").cursor == 9_999
        await until(pilot, lambda: scroll.scroll_y > scroll.size.height)  # the cursor's row scrolled into sight


@pytest.mark.asyncio
async def test_a_held_temperature_key(tiny_run):
    app = ChartuiApp(run=str(tiny_run))
    async with app.run_test(size=(120, 36)) as pilot:
        await pilot.press("2")
        tab = app.query_one(GenerateTab)
        tab.speed_index = 0  # 25 characters a second: the stream outlasts the key presses
        view = app.query_one("#gen-view-0", SampleView)
        await keys(app, "r")
        await until(pilot, lambda: len(view.text) > 0 and tab.samplers)
        await keys(app, *["plus"] * 80)  # auto-repeat: a burst of key events, faster than a frame
        await until(pilot, lambda: tab.temperature == 3.0 and "T 3.00" in str(app.query_one("#gen-status").render()))
        assert all(s.temperature == 3.0 for s in tab.samplers)
        await keys(app, *["minus"] * 80)
        await until(pilot, lambda: tab.temperature == pytest.approx(0.1))
        assert all(s.temperature == pytest.approx(0.1) for s in tab.samplers)
        before = len(view.text)
        await until(pilot, lambda: len(view.text) > before)  # still streaming
        tab.stop()


@pytest.mark.asyncio
async def test_the_tab_on_screen_has_the_keys_again_after_the_window_was_too_small(tiny_run):
    app = ChartuiApp(run=str(tiny_run))
    async with app.run_test(size=(120, 36)) as pilot:
        generate = app.query_one(GenerateTab)
        await keys(app, "2")
        await until(pilot, lambda: has_focus(app, generate))
        await pilot.resize_terminal(40, 12)  # the tabs hide: the focus goes with them
        await until(pilot, lambda: app.screen.has_class("too-small"))
        await pilot.resize_terminal(120, 36)
        await until(pilot, lambda: not app.screen.has_class("too-small") and has_focus(app, generate))
