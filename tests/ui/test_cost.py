"""What the app does on the UI thread when little changes: a status line that changes ten times
a second repaints itself without laying out the screen, and a tab switch restyles the tabs
involved, not every widget inside them (benchmarks/soak.py measures the latencies)."""

from __future__ import annotations

import re

import pytest
from textual.app import App
from textual.containers import Vertical

from chartui.ui.app import ChartuiApp
from chartui.ui.tabs.train import TrainTab
from chartui.ui.widgets.live_text import LiveText
from tests.conftest import keys, until
from tests.ui.test_app import TINY


class OneLine(App):
    CSS = "Vertical { width: 30; } LiveText { height: auto; }"

    def compose(self):
        with Vertical():
            yield LiveText("step 1", id="line")


@pytest.mark.asyncio
async def test_a_live_line_lays_out_only_when_its_height_changes():
    app = OneLine()
    async with app.run_test(size=(60, 10)) as pilot:
        line = app.query_one(LiveText)
        layouts: list[bool] = []
        refresh = line.refresh

        def spy(*regions, **kwargs):
            layouts.append(kwargs.get("layout", False))
            return refresh(*regions, **kwargs)

        line.refresh = spy  # type: ignore[method-assign]
        await until(pilot, lambda: line.size.height == 1)

        line.show("step 1")  # unchanged: nothing to do
        assert layouts == []
        line.show("step 2")  # same one line: a repaint only
        await until(pilot, lambda: "step 2" in str(line.render()))
        assert layouts and not any(layouts)

        layouts.clear()
        line.show("step 3 " + "and a phrase long enough to wrap " * 2)
        assert any(layouts)
        await until(pilot, lambda: line.size.height > 1)

        line.show("step 4")
        await until(pilot, lambda: line.size.height == 1)


@pytest.mark.asyncio
async def test_a_tab_switch_restyles_the_tabs_not_the_widgets_inside(monkeypatch):
    app = ChartuiApp()
    async with app.run_test(size=(120, 40)) as pilot:
        train = app.query_one(TrainTab)
        await until(pilot, lambda: app.focused is train)
        inside = len(list(train.walk_children()))
        restyled: list[object] = []
        update_nodes = app.stylesheet.update_nodes

        def spy(nodes, animate=False):
            nodes = list(nodes)
            restyled.extend(nodes)
            return update_nodes(nodes, animate=animate)

        monkeypatch.setattr(app.stylesheet, "update_nodes", spy)
        await pilot.press("4")  # Train -> Data: the Train tab loses the focus
        await until(pilot, lambda: app.query_one("#tabs").active == "data" and app.focused is not train)
        await pilot.press("1")  # and gets it back
        await until(pilot, lambda: app.focused is train)
        mine = [n for n in restyled if n is train or train in n.ancestors]  # type: ignore[attr-defined]
        assert train in mine
        assert len(mine) < inside / 4, f"{len(mine)} restyles in a tab of {inside} widgets"


@pytest.mark.asyncio
async def test_the_train_tab_skips_its_status_line_while_hidden_and_catches_up_when_shown(small_corpus):
    app = ChartuiApp(corpus=str(small_corpus), preset="seed", overrides={**TINY, "max_steps": 100_000})
    async with app.run_test(size=(120, 36)) as pilot:
        tab = app.query_one(TrainTab)
        await keys(app, "s")
        await until(pilot, lambda: tab.history.latest is not None and tab.history.latest["step"] >= 3)
        await keys(app, "4")
        await until(pilot, lambda: app.query_one("#tabs").active == "data")
        left_at = tab.history.latest["step"]
        shown = _text(app, "#train-stats")
        await until(pilot, lambda: tab.history.latest["step"] >= left_at + 20)
        assert _text(app, "#train-stats") == shown  # ten updates a second nobody could see
        seen = tab.history.latest["step"]
        await keys(app, "1")
        await until(pilot, lambda: _step_shown(app) >= seen)
        await keys(app, "x")
        await until(pilot, lambda: tab.history.finished is not None and not tab.is_training)


def _text(app, selector: str) -> str:
    return str(app.query_one(selector).render()).replace("\u00a0", " ")


def _step_shown(app) -> int:
    match = re.search(r"step ([\d,]+)", _text(app, "#train-stats"))
    return int(match.group(1).replace(",", "")) if match else -1
