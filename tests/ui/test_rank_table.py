"""The Gates tab's ranking table: a row cursor that the view follows, picks by key and click,
and a repaint (never a layout) when its rows change but not their number."""

from __future__ import annotations

import pytest
from textual.app import App

from chartui.ui.widgets.rank_table import RankTable, fit
from tests.conftest import until

ROWS = [(str(u), f"feature {u}", f"+0.{u:02d}") for u in range(10)]


class Ranked(App):
    CSS = "RankTable { height: 4; }"  # the header and three rows

    def __init__(self) -> None:
        super().__init__()
        self.picked: list[tuple[int, tuple[str, ...]]] = []

    def compose(self):
        yield RankTable([("unit", 4, True), ("tracks", 12, False), ("r", 5, True)])

    def on_rank_table_picked(self, message: RankTable.Picked) -> None:
        self.picked.append((message.row, message.cells))


async def _focused(pilot, app: Ranked, cursor: int = 0) -> RankTable:
    """The table holding ROWS, the cursor on row ``cursor``, with the focus."""
    table = app.query_one(RankTable)
    table.fill(ROWS, cursor)
    table.focus()
    await until(pilot, lambda: table.has_focus and table.size.height == 4)
    return table


def _shown(table: RankTable) -> list[str]:
    return [line.text for line in table.render_lines(table.region.reset_offset)]


def test_a_cell_is_cut_with_an_ellipsis_or_padded_to_its_width():
    assert fit("word boundary", 8, False) == "word bo…"
    assert fit("14", 4, True) == "  14" and fit("14", 4, False) == "14  "
    assert fit("abc", 0, False) == ""


@pytest.mark.asyncio
async def test_the_view_follows_the_cursor_under_a_fixed_header():
    app = Ranked()
    async with app.run_test(size=(40, 8)) as pilot:
        table = await _focused(pilot, app)
        shown = _shown(table)
        assert shown[0].split() == ["unit", "tracks", "r"] and "feature 0" in shown[1] and "feature 2" in shown[3]
        await pilot.press("end")
        assert table.cursor == 9
        shown = _shown(table)
        assert shown[0].split() == ["unit", "tracks", "r"] and "feature 9" in shown[3] and "feature 6" not in "".join(shown)
        await pilot.press("up", "up", "up")
        assert table.cursor == 6 and "feature 6" in _shown(table)[1]
        await pilot.press("home", "up")  # the first row stays the first
        assert table.cursor == 0 and "feature 0" in _shown(table)[1]
        await pilot.press("pagedown")
        assert table.cursor == 3


@pytest.mark.asyncio
async def test_enter_and_a_click_pick_the_row_under_them():
    app = Ranked()
    async with app.run_test(size=(40, 8)) as pilot:
        table = await _focused(pilot, app, cursor=4)
        await pilot.press("enter")
        await until(pilot, lambda: app.picked == [(4, ROWS[4])])
        await pilot.click(RankTable, offset=(2, 2))  # the second row in view, under the header
        assert table.cursor == table._top + 1
        await until(pilot, lambda: app.picked[-1] == (table.cursor, ROWS[table.cursor]))
        await pilot.click(RankTable, offset=(2, 0))  # the header picks nothing
        await pilot.pause()
        assert len(app.picked) == 2


@pytest.mark.asyncio
async def test_new_rows_repaint_and_only_a_new_number_of_rows_lays_out():
    app = Ranked()
    async with app.run_test(size=(40, 8)) as pilot:
        table = app.query_one(RankTable)
        table.fill(ROWS)
        await pilot.pause()
        layouts: list[bool] = []
        refresh = table.refresh
        table.refresh = lambda *a, **k: (layouts.append(k.get("layout", False)), refresh(*a, **k))[1]  # type: ignore[method-assign]
        table.fill([(u, f"other {u}", r) for u, _, r in ROWS], cursor=2)
        await until(pilot, lambda: "other 0" in _shown(table)[1])
        assert layouts == [False] and table.cursor == 2
        table.fill(ROWS[:2])
        assert layouts[-1] is True
        table.fill([])
        await pilot.pause()
        assert _shown(table)[0].split() == ["unit", "tracks", "r"]
        await pilot.press("enter")  # nothing to pick
        await pilot.pause()
        assert app.picked == []
