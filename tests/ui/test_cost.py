"""What the app does on the UI thread when little changes: a status line that changes ten times
a second repaints itself without laying out the screen, and a tab switch restyles the tabs
involved, not every widget inside them (benchmarks/soak.py measures the latencies)."""

from __future__ import annotations

import json
import re

import pytest
from textual.app import App
from textual.color import Color
from textual.containers import Vertical
from textual.widgets import DataTable, Input, Select

from chartui.engine import runs
from chartui.engine.metrics import read_metrics, trim_metrics
from chartui.ui.app import ChartuiApp
from chartui.ui.tabs.compare import CompareTab
from chartui.ui.tabs.gates import GatesTab
from chartui.ui.tabs.train import TrainTab
from chartui.ui.widgets.live_text import LiveText
from chartui.ui.widgets.loss_chart import LossChart
from chartui.ui.widgets.rank_table import RankTable
from chartui.ui.widgets.steady_table import SteadyTable
from tests.conftest import copy_run, keys, until
from tests.ui.test_app import TINY, _text


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


def _step_shown(app) -> int:
    match = re.search(r"step ([\d,]+)", _text(app, "#train-stats"))
    return int(match.group(1).replace(",", "")) if match else -1


@pytest.mark.asyncio
async def test_the_compare_tab_reads_only_what_was_appended_and_redraws_only_what_changed(tiny_run, home):
    run = copy_run(tiny_run, home / "checkpoints" / "tiny-a")
    app = ChartuiApp()
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("5")
        table = app.query_one("#compare-table", SteadyTable)
        chart = app.query_one("#compare-chart", LossChart)
        await until(pilot, lambda: table.row_count == 1 and chart._raw)
        evals = [r for r in read_metrics(run / runs.METRICS) if r.get("event") == "eval"]
        assert [p for p in chart._raw[0][1]] == [r["chars_seen"] for r in evals]
        drawn, cleared = [], []
        set_lines, clear = chart.set_lines, table.clear
        chart.set_lines = lambda *a, **k: (drawn.append(a[0]), set_lines(*a, **k))  # type: ignore[method-assign]
        table.clear = lambda *a, **k: (cleared.append(1), clear(*a, **k))  # type: ignore[method-assign]

        await pilot.press("r")  # nothing changed on disk
        await pilot.press("1", "5")  # nor by looking again
        assert drawn == [] and cleared == []

        with open(run / runs.METRICS, "a") as fh:  # the run goes on training
            fh.write(json.dumps({**evals[-1], "step": 999, "chars_seen": evals[-1]["chars_seen"] + 1000, "val_loss": 1.5}) + "\n")
        await pilot.press("r")
        await until(pilot, lambda: len(drawn) == 1)
        assert drawn[0][0][1][-1] == evals[-1]["chars_seen"] + 1000 and drawn[0][0][2][-1] == 1.5
        assert len(drawn[0][0][1]) == len(evals) + 1  # the old points once, the new one added

        trim_metrics(run / runs.METRICS, evals[0]["step"])  # a resume rewrote the file shorter
        await pilot.press("r")
        await until(pilot, lambda: len(drawn) == 2)
        assert drawn[1][0][1] == [evals[0]["chars_seen"]]

        row = list(table._filled[0])
        row[-1] = "interrupted"  # one cell changes: it is replaced, the table is not refilled
        table.fill([tuple(row)])
        assert cleared == [] and table.get_row_at(0)[-1] == "interrupted"
        await until(pilot, lambda: list(table.columns.values())[-1].content_width >= len("interrupted"))  # widened, not clipped


@pytest.mark.asyncio
async def test_a_switch_to_compare_puts_the_table_on_screen_before_it_redraws_the_chart(tiny_run, home):
    # A run that trains gives the chart new points at every visit; a plot is the costliest
    # thing the tab draws, so the frame that shows the tab must not wait for it.
    run = copy_run(tiny_run, home / "checkpoints" / "tiny-a")
    app = ChartuiApp()
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("5")
        tab = app.query_one(CompareTab)
        chart = app.query_one("#compare-chart", LossChart)
        await until(pilot, lambda: bool(chart._raw))
        await pilot.press("1")
        evals = [r for r in read_metrics(run / runs.METRICS) if r.get("event") == "eval"]
        with open(run / runs.METRICS, "a") as fh:  # the run goes on training while the tab is hidden
            fh.write(json.dumps({**evals[-1], "step": 999, "chars_seen": evals[-1]["chars_seen"] + 1000, "val_loss": 1.5}) + "\n")
        order: list[str] = []
        fill, set_lines, display = tab._fill_table, chart.set_lines, app._display
        tab._fill_table = lambda: (order.append("table"), fill())[1]  # type: ignore[method-assign]
        chart.set_lines = lambda *a, **k: (order.append("chart"), set_lines(*a, **k))[1]  # type: ignore[method-assign]
        app._display = lambda *a, **k: (order.append("frame"), display(*a, **k))[1]  # type: ignore[method-assign]
        await pilot.press("5")
        await until(pilot, lambda: "chart" in order)
        # a frame between the table and the chart (one may come before both: the key bar's)
        assert "frame" in order[order.index("table") : order.index("chart")]
        await until(pilot, lambda: chart._raw[0][2][-1] == 1.5)  # and the new point is drawn


async def _traced_gates(pilot, app) -> tuple[GatesTab, RankTable]:
    """The Gates tab, once it has traced its passage and ranked the units."""
    await pilot.press("3")
    tab, table = app.query_one(GatesTab), app.query_one("#gates-rank", RankTable)
    await until(pilot, lambda: tab.trace is not None and table.row_count > 0)
    return tab, table


def _shows_ranking(tab: GatesTab, table: RankTable) -> bool:
    """The table lists the units of the ranking of the gate shown."""
    units = [str(r.unit) for r in tab.rankings[(tab.gate_layer, tab.gate)]]
    return [row[0] for row in table.rows] == units


@pytest.mark.asyncio
async def test_another_gate_changes_the_ranking_cells_without_laying_out_the_screen(tiny_run):
    # The ranking's columns used to fit their contents: a gate whose ranking named a longer
    # feature widened the table, and the new size laid out the whole screen again.
    app = ChartuiApp(run=str(tiny_run))
    async with app.run_test(size=(120, 40)) as pilot:
        tab, table = await _traced_gates(pilot, app)
        await pilot.pause()
        layouts: list[bool] = []
        refresh = table.refresh
        table.refresh = lambda *a, **k: (layouts.append(k.get("layout", False)), refresh(*a, **k))[1]  # type: ignore[method-assign]
        size, shown = table.size, set()
        for _ in tab.trace.gate_names:
            await pilot.press("g")
            await until(pilot, lambda: _shows_ranking(tab, table))
            shown.add(tuple(len(row[1]) for row in table.rows))
        assert len(shown) > 1  # rankings whose features differ in length (else this proves nothing)
        assert layouts and not any(layouts) and table.size == size


@pytest.mark.asyncio
async def test_the_generate_tab_rebuilds_its_run_picker_only_when_the_runs_changed(tiny_run, home):
    copy_run(tiny_run, home / "checkpoints" / "tiny-a")
    app = ChartuiApp()
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("2")
        select = app.query_one("#gen-run", Select)
        await until(pilot, lambda: len(select._options) == 2)  # the blank, and tiny-a
        rebuilt = []
        set_options = select.set_options
        select.set_options = lambda options: (rebuilt.append(list(options)), set_options(options))  # type: ignore[method-assign]
        await pilot.press("1", "2")
        assert rebuilt == []
        copy_run(tiny_run, home / "checkpoints" / "tiny-b")
        await pilot.press("1", "2")
        await until(pilot, lambda: len(rebuilt) == 1)
        assert {v for _, v in rebuilt[0]} == {str(home / "checkpoints" / n) for n in ("tiny-a", "tiny-b")}


@pytest.mark.asyncio
async def test_a_training_error_stays_on_the_train_tab_across_a_tab_switch(small_corpus):
    app = ChartuiApp(corpus=str(small_corpus), preset="seed", overrides={**TINY, "max_steps": 5})
    async with app.run_test(size=(120, 36)) as pilot:
        tab = app.query_one(TrainTab)
        await keys(app, "s")
        await until(pilot, lambda: tab.history.finished is not None and not tab.is_training)
        await keys(app, "4")
        await until(pilot, lambda: app.query_one("#tabs").active == "data" and not tab.on_screen)
        tab.post_message(TrainTab.Failed("the disk is full"))
        await until(pilot, lambda: "the disk is full" in _text(app, "#train-stats"))
        await keys(app, "1")
        await until(pilot, lambda: tab.on_screen)
        await pilot.pause()  # the switch's TabActivated, and with it shown(), handled
        assert "the disk is full" in _text(app, "#train-stats")  # not replaced by "finished


class Chart(App):
    def compose(self):
        yield LossChart()


def _falling(chart: LossChart, points: int) -> None:
    """One train curve falling from 2.0 over ``points`` steps."""
    xs = list(range(points))
    chart.set_lines([("train", xs, [2.0 - x / points for x in xs])])


@pytest.mark.asyncio
async def test_a_chart_cuts_its_lines_again_for_a_new_width():
    app = Chart()
    async with app.run_test(size=(80, 20)) as pilot:
        chart = app.query_one(LossChart)
        xs = list(range(5000))
        chart.set_lines([("train", xs, [1.0 + (x % 7) / 10 for x in xs])])
        narrow = len(chart._lines[0][1])
        assert narrow <= 2 * 80
        await pilot.resize_terminal(200, 20)
        await until(pilot, lambda: len(chart._lines[0][1]) > narrow)
        assert len(chart._lines[0][1]) <= 2 * 200


@pytest.mark.asyncio
async def test_a_chart_shown_again_builds_no_plot_until_its_lines_or_view_change(monkeypatch):
    resizes: list[object] = []
    on_resize = LossChart.on_resize
    monkeypatch.setattr(LossChart, "on_resize", lambda self: (resizes.append(self.size), on_resize(self))[1])
    app = Chart()
    async with app.run_test(size=(80, 20)) as pilot:
        chart = app.query_one(LossChart)
        builds: list[int] = []
        build = chart._build

        def spy(theme):
            builds.append(chart._version)
            return build(theme)

        chart._build = spy  # type: ignore[method-assign]
        _falling(chart, 500)
        await until(pilot, lambda: len(builds) == 1)
        resized = len(resizes)
        for turn in range(2):  # hidden and shown again: Textual sends a Resize at the same size
            chart.display = False
            await pilot.pause()
            chart.display = True
            await until(pilot, lambda turn=turn: len(resizes) > resized + turn)
        chart.refresh()
        await pilot.pause()
        assert len(builds) == 1
        chart.set_view(log_scale=True)
        await until(pilot, lambda: len(builds) == 2)
        assert "log10" in chart.plain


@pytest.mark.asyncio
async def test_a_chart_takes_the_colours_of_a_new_theme():
    # plotext learns of a new theme a moment after the app (textual-plotext registers it on the
    # theme's signal): a plot built in between had plotext's default white, and was kept.
    app = Chart()
    async with app.run_test(size=(80, 20)) as pilot:
        chart = app.query_one(LossChart)
        _falling(chart, 50)
        await until(pilot, lambda: chart._built is not None)

        def background() -> tuple[int, int, int] | None:
            colour = chart.render_line(1)._segments[0].style.bgcolor
            return None if colour is None else tuple(colour.get_truecolor())  # type: ignore[return-value]

        for theme in ("textual-light", "nord", "textual-dark"):
            app.theme = theme
            await until(pilot, lambda: background() == Color.parse(app.theme_variables["surface"]).rgb)


class Tables(App):
    def compose(self):
        yield SteadyTable(cursor_type="row")
        yield Input()


def _lines(table: DataTable) -> list[list[tuple[str, object]]]:
    return [[(s.text, s.style) for s in line] for line in table.render_lines(table.region.reset_offset)]


@pytest.mark.asyncio
async def test_a_table_that_gains_and_loses_the_focus_draws_each_cell_once_and_right(monkeypatch):
    resizes: list[object] = []
    on_resize = SteadyTable._on_resize
    monkeypatch.setattr(SteadyTable, "_on_resize", lambda self, event: (resizes.append(event.size), on_resize(self, event))[1])
    app = Tables()
    async with app.run_test(size=(80, 12)) as pilot:
        table = app.query_one(SteadyTable)
        table.add_columns("run", "loss")
        for i in range(4):
            table.add_row(f"run-{i}", f"{1.5 + i / 10:.2f}")
        cells: list[tuple] = []
        render_cell = table._render_cell

        def spy(*args, **kwargs):
            cells.append(args[:2])
            return render_cell(*args, **kwargs)

        table._render_cell = spy  # type: ignore[method-assign]
        table.focus()
        await until(pilot, lambda: table.has_focus and table.row_count == 4)
        await pilot.pause()
        focused = _lines(table)
        app.query_one(Input).focus()
        await until(pilot, lambda: not table.has_focus)
        await pilot.pause()
        blurred = _lines(table)
        assert blurred != focused  # the cursor row is drawn differently: a stale style would show
        drawn = 0
        for turn in range(4):
            if turn == 1:  # each state has been drawn in its final form once
                drawn = len(cells)
            table.focus()
            await until(pilot, lambda: table.has_focus)
            await pilot.pause()
            assert _lines(table) == focused
            app.query_one(Input).focus()
            await until(pilot, lambda: not table.has_focus)
            await pilot.pause()
            assert _lines(table) == blurred
        assert len(cells) == drawn  # every cell came from the cache
        count, resized = table._update_count, len(resizes)
        for turn in range(2):  # hidden and shown again: Textual sends a Resize at the same size
            table.display = False
            await pilot.pause()
            table.display = True
            await until(pilot, lambda turn=turn: len(resizes) > resized + turn)
            await pilot.pause()
        assert table._update_count == count and len(cells) == drawn  # DataTable's own Resize handler drops every row
        table._clear_caches()  # and what the cache gave is what a fresh draw gives
        table._get_styles_to_render_cell.cache_clear()
        assert _lines(table) == blurred
        app.theme = "textual-light" if app.theme != "textual-light" else "textual-dark"
        await until(pilot, lambda: _lines(table) != blurred)  # a new theme still redraws


@pytest.mark.asyncio
async def test_another_gate_replaces_the_ranking_and_enter_or_a_click_picks_the_unit_shown(tiny_run):
    app = ChartuiApp(run=str(tiny_run))
    async with app.run_test(size=(120, 40)) as pilot:
        tab, table = await _traced_gates(pilot, app)
        before = list(table.rows)
        await pilot.press("g")  # another gate: another ranking of the same length
        ranking, ranking_gate = tab.rankings[(tab.gate_layer, tab.gate)], tab.gate
        await until(pilot, lambda: _shows_ranking(tab, table))
        assert table.rows != before
        table.focus()
        await pilot.press("down", "down", "enter")
        await until(pilot, lambda: tab.unit == ranking[2].unit)
        # Enter, then another gate before the pick is handled: the unit picked is the one
        # that was on the row when Enter was pressed, not the one the next ranking puts there.
        await pilot.press("down")
        picked = int(table.rows[3][0])
        await pilot.press("enter", "g")
        await until(pilot, lambda: tab.gate != ranking_gate)
        await pilot.pause()
        assert tab.rankings[(tab.gate_layer, tab.gate)][3].unit != picked  # (else this would prove nothing)
        assert tab.unit == picked
        # a click on a row picks it (line 0 is the header)
        clicked = int(table.rows[5][0])
        assert clicked != tab.unit
        await pilot.click(RankTable, offset=(3, 6))
        await until(pilot, lambda: tab.unit == clicked)


@pytest.mark.asyncio
async def test_drawing_finds_the_theme_without_parsing_its_name(monkeypatch):
    app = ChartuiApp()
    async with app.run_test(size=(120, 40)) as pilot:
        looked_up: list[str] = []
        get_theme = app.get_theme
        monkeypatch.setattr(app, "get_theme", lambda name: (looked_up.append(name), get_theme(name))[1])
        await pilot.press("4", "1")  # two tab switches: every line drawn asks for the theme
        await pilot.pause()
        assert looked_up == []
        app.theme = "textual-light"
        await until(pilot, lambda: app.current_theme.name == "textual-light" and not app.current_theme.dark)


@pytest.mark.asyncio
async def test_a_table_whose_cells_change_keeps_only_what_it_can_draw_again():
    # DataTable keys every cached cell, row and line by its count of data changes and keeps the
    # dead ones until its caches are full; an app open for hours would carry thousands.
    app = Tables()
    async with app.run_test(size=(80, 12)) as pilot:
        table = app.query_one(SteadyTable)
        table.add_columns("run", "loss")
        table.focus()
        for n in range(40):
            table.fill([(str(i), f"run-{i}", f"{1.5 + (i + n) / 100:.2f}") for i in range(4)])
            await until(pilot, lambda n=n: table.get_row_at(0)[1] == f"{1.5 + n / 100:.2f}")
            await pilot.pause()
            _lines(table)  # a drawing of this state
        assert len(table._cell_render_cache) <= 10  # header and four rows of two cells: one drawing
        assert len(table._line_cache) <= 12 and len(table._row_render_cache) <= 12
