"""Terminals that fight back: resizing without pause while training and streaming, a 40x12
window, pasting 10,000 characters into the gates input, a held-down temperature key."""

from __future__ import annotations


import pytest
from textual import events

from chartui.ui.app import ChartuiApp
from chartui.ui.tabs.gates import GatesTab
from chartui.ui.tabs.generate import GenerateTab
from chartui.ui.widgets.sample_view import SampleView
from tests.ui.test_app import TINY, _until


@pytest.mark.asyncio
async def test_resizing_continuously_while_training_and_streaming(small_corpus, tiny_run):
    app = ChartuiApp(corpus=str(small_corpus), preset="seed", overrides={**TINY, "max_steps": 100_000})
    async with app.run_test(size=(120, 36)) as pilot:
        await pilot.press("s")
        await _until(pilot, lambda: app.train_tab.history.latest is not None)
        sizes = [(80, 24), (200, 60), (40, 12), (120, 36), (81, 25), (79, 23), (160, 50)]
        for i in range(60):
            await pilot.resize_terminal(*sizes[i % len(sizes)])
            await pilot.pause(0.01)
            if i == 20:
                await pilot.press("2")
                app.query_one(GenerateTab).run_choice = str(tiny_run)
                await pilot.press("r")
        await pilot.resize_terminal(120, 36)
        await pilot.pause(0.2)
        assert not app.screen.has_class("too-small")
        steps = app.train_tab.history.latest["step"]
        await _until(pilot, lambda: app.train_tab.history.latest["step"] > steps)  # still training
        assert len(app.query_one("#gen-view-0", SampleView).text) > 0  # still streaming
        app.query_one(GenerateTab).stop()
        await pilot.press("ctrl+q", "y")
        await _until(pilot, lambda: not app.train_tab.is_training, timeout=10)


@pytest.mark.asyncio
async def test_a_40x12_terminal_gets_a_notice_not_a_broken_layout(small_corpus):
    app = ChartuiApp(corpus=str(small_corpus))
    async with app.run_test(size=(40, 12)) as pilot:
        await pilot.pause(0.1)
        assert app.screen.has_class("too-small")
        assert "needs at least 80x24" in str(app.query_one("#too-small").render())
        assert not app.query_one("#tabs").display


@pytest.mark.asyncio
async def test_pasting_10000_characters_into_the_gates_input(tiny_run):
    from chartui.engine import checkpoint as ck

    vocab = ck.load_checkpoint(tiny_run / ck.BEST).meta["vocab"]
    text = ("".join(c for c in vocab if c.isalpha() or c in " \n.,") * 500)[:10_000]
    app = ChartuiApp(run=str(tiny_run))
    async with app.run_test(size=(120, 36)) as pilot:
        await pilot.press("3", "e")
        area = app.query_one("#gates-input")
        area.text = ""
        app.post_message(events.Paste(text))  # as a terminal delivers it: to the app, which hands it to the focus
        await _until(pilot, lambda: len(area.text) == 10_000)
        tab = app.query_one(GatesTab)
        await _until(pilot, lambda: tab.trace is not None and len(tab.trace.text) == 10_000, timeout=60)
        unit = tab.unit
        await pilot.press("escape", "down", "right")
        assert tab.unit == (unit + 1) % 16 and app.query_one("#gates-text").cursor == 1
        scroll = app.query_one("#gates-text-scroll")
        await pilot.press("end")
        await _until(pilot, lambda: scroll.scroll_y > 0)  # the cursor's row scrolled into sight
        assert scroll.scroll_y > scroll.size.height


@pytest.mark.asyncio
async def test_a_held_temperature_key(tiny_run):
    app = ChartuiApp(run=str(tiny_run))
    async with app.run_test(size=(120, 36)) as pilot:
        await pilot.press("2")
        tab = app.query_one(GenerateTab)
        tab.speed_index = 0  # 25 characters a second: the stream outlasts the 160 key presses
        await pilot.press("r")
        await _until(pilot, lambda: len(app.query_one("#gen-view-0", SampleView).text) > 0)
        await pilot.press(*["plus"] * 80)
        assert tab.temperature == 3.0 and all(s.temperature == 3.0 for s in tab._samplers)
        await pilot.press(*["minus"] * 80)
        assert tab.temperature == pytest.approx(0.1)
        before = len(app.query_one("#gen-view-0", SampleView).text)
        await _until(pilot, lambda: len(app.query_one("#gen-view-0", SampleView).text) > before)  # still streaming
        tab.stop()
