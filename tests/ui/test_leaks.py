"""The app gives back the widgets it removes.

Textual keeps a removed widget alive while it is still listed as a watcher of a longer-lived
object whose value has not changed since (Textualize/textual#6666). Textual's Footer hit this
at every tab switch: it rebuilds its keys whenever the active bindings change and binds each
new key to its own ``compact`` reactive, which never changes. The app now draws its keys with
KeyBar (one widget, nothing rebuilt), and chartui.ui.leaks releases closed watchers of every
node on a timer, for any widget that watches something longer-lived.

Each Footer rebuild here is awaited (``Footer.recompose``), not provoked with key presses, so
the tests do not depend on how fast a loaded machine delivers keys."""

from __future__ import annotations

import gc
import itertools
import json
from typing import ClassVar

import pytest
from rich.segment import Segment
from rich.style import Style
from textual.app import App, ComposeResult
from textual.cache import FIFOCache
from textual.color import Color
from textual.filter import Monochrome
from textual.strip import Strip
from textual.widgets import Footer, Label
from textual.widgets._footer import FooterKey

from chartui.ui import cycles
from chartui.ui.app import ChartuiApp
from chartui.ui.cycles import break_strip_cycles
from chartui.ui.history import MAX_POINTS, RunHistory
from chartui.ui.leaks import release_closed_watchers
from chartui.ui.tabs.compare import _Curves
from chartui.ui.tabs.train import TrainTab
from chartui.ui.widgets.key_bar import KeyBar
from tests.conftest import keys, until

REBUILDS = 6


def _alive_footer_keys() -> int:
    gc.collect()
    return sum(1 for o in gc.get_objects() if type(o) is FooterKey)  # type(): isinstance wakes lazy modules


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


class _RunWatcher(Label):
    """A widget that watches the app's active run, as every tab does."""

    def on_mount(self) -> None:
        self.watch(self.app, "active_run", lambda run: None, init=False)


@pytest.mark.asyncio
async def test_the_app_frees_a_removed_widget_that_watched_it(small_corpus, home, monkeypatch):
    monkeypatch.setattr("chartui.ui.app.RELEASE_EVERY", 0.05)
    app = ChartuiApp(corpus=str(small_corpus))
    async with app.run_test(size=(120, 36)) as pilot:
        watcher = _RunWatcher("watching")
        await app.screen.mount(watcher)
        await until(pilot, lambda: watcher in _watchers_of(app, "active_run"))
        await watcher.remove()
        # No call from the test: the app's timer must drop the entry that keeps it alive.
        await until(pilot, lambda: watcher not in _watchers_of(app, "active_run"))


def _watchers_of(node, attribute: str) -> list:
    """The widgets listed as watchers of ``node.attribute`` (where textual.reactive keeps them)."""
    return [entry[0] for entry in getattr(node, "__watchers", {}).get(attribute, [])]


@pytest.mark.asyncio
async def test_the_app_shows_its_keys_in_one_line_without_a_widget_per_key(small_corpus, home):
    app = ChartuiApp(corpus=str(small_corpus))
    async with app.run_test(size=(120, 36)) as pilot:
        bar = app.query_one(KeyBar)
        await until(pilot, lambda: "s" in bar.shown_keys)  # the Train tab's keys
        assert not app.query(FooterKey)
        assert bar.shown_keys[-1] == app.COMMAND_PALETTE_BINDING
        await keys(app, "2")
        await until(pilot, lambda: "s" not in bar.shown_keys and "r" in bar.shown_keys)  # Generate's


@pytest.mark.asyncio
async def test_a_click_on_a_key_in_the_bar_presses_it(small_corpus, home):
    app = ChartuiApp(corpus=str(small_corpus))
    async with app.run_test(size=(120, 36)) as pilot:
        bar = app.query_one(KeyBar)
        await until(pilot, lambda: "c" in bar.shown_keys)
        train = app.query_one(TrainTab)
        assert train.axis == "steps"
        x = bar.plain.index(" c Steps/chars") + 1
        await pilot.click(KeyBar, offset=(x, 0))
        await until(pilot, lambda: train.axis == "chars")


@pytest.mark.asyncio
async def test_the_app_settles_its_heap_once_up_and_again_once_torch_is_loaded(small_corpus, home, monkeypatch):
    # `chartui ui` asks for it; a full garbage collection then skips what start-up and torch
    # left alive (chartui.memory.settle). Freezing is process-wide, so undo it afterwards.
    import sys

    monkeypatch.setattr("chartui.ui.app.RELEASE_EVERY", 0.05)
    torch_loaded = "torch" in sys.modules  # by earlier tests in this process, or not yet
    gc.unfreeze()
    threshold = gc.get_threshold()
    try:
        app = ChartuiApp(corpus=str(small_corpus), settle_heap=True)
        async with app.run_test(size=(120, 36)) as pilot:
            first = 0
            if not torch_loaded:  # the app alone, then torch as training would load it
                await until(pilot, lambda: app._settled == 1)
                first = gc.get_freeze_count()
                assert first > 10_000
                import torch  # noqa: F401
            await until(pilot, lambda: app._settled == 2)
            assert gc.get_freeze_count() > first + 100_000  # torch's modules and functions alone
        assert not ChartuiApp(corpus=str(small_corpus)).settle_heap  # tests and embedders: as it was
    finally:
        gc.unfreeze()
        gc.set_threshold(*threshold)


def _refers_to_itself(obj: object, depth: int = 5) -> bool:
    seen, frontier = {id(obj)}, [obj]
    for _ in range(depth):
        found = []
        for o in frontier:
            for r in gc.get_referents(o):
                if r is obj:
                    return True
                if id(r) not in seen:
                    seen.add(id(r))
                    found.append(r)
        frontier = found
    return False


def test_a_line_cut_or_cropped_to_itself_does_not_refer_to_itself(monkeypatch):
    # Textual caches such a line on itself: a cycle the collector's full passes had to free.
    monkeypatch.setattr(Strip, "divide", Strip.divide)  # undone after the test, whatever it sets
    monkeypatch.setattr(Strip, "crop_extend", Strip.crop_extend)
    break_strip_cycles()
    strip = Strip([Segment("hello "), Segment("world", Style(bold=True))])
    assert strip.divide([11]) == [strip] and strip.divide([11, 20]) == [strip]
    assert strip.crop_extend(0, 11, None) is strip
    assert not _refers_to_itself(strip)
    assert [p.text for p in strip.divide([3, 11])] == ["hel", "lo world"]  # other cuts: as Textual makes them
    assert strip.crop_extend(2, 14, None).text == "llo world   "


@pytest.mark.asyncio
async def test_switching_tabs_leaves_drawn_lines_to_reference_counting_not_the_cyclic_collector(monkeypatch):
    monkeypatch.setattr(Strip, "divide", cycles._original["divide"])  # as Textual has it, until the app starts
    monkeypatch.setattr(Strip, "crop_extend", cycles._original["crop_extend"])
    app = ChartuiApp()
    assert Strip.divide is cycles._divide and Strip.crop_extend is cycles._crop_extend
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("2", "3", "4", "5", "1")
        await pilot.pause()
        gc.collect()
        gc.set_debug(gc.DEBUG_SAVEALL)
        try:
            for _ in range(3):
                await pilot.press("2", "3", "4", "5", "1")
            await pilot.pause()
            gc.collect()
            strips = sum(isinstance(o, Strip) for o in gc.garbage)
        finally:
            gc.set_debug(0)
            gc.garbage.clear()
        assert strips < 10  # 922 here before (textual 8.2.8)


def _strips_as_textual_makes_them(monkeypatch) -> None:
    """Textual's own Strip (undone after the test, whatever the test sets)."""
    cycles.textual_strip_caches(monkeypatch.setattr)


def _caches_of(strip: Strip) -> list[FIFOCache]:
    return [r for r in gc.get_referents(strip) if isinstance(r, FIFOCache)]


_MONOCHROME = Monochrome()


def _derived(strip: Strip) -> list:
    """A line derived each way Textual caches a derivation."""
    return [
        strip.crop(2, 9),
        strip.divide([3, 7]),
        strip.apply_style(Style(italic=True)),
        strip.crop_extend(1, 14, None),
        strip.adjust_cell_length(14),
        strip.apply_offsets(1, 2),
        strip.apply_filter(_MONOCHROME, Color(0, 0, 0)),
    ]


def test_a_line_makes_a_cache_only_for_what_it_is_asked(monkeypatch):
    _strips_as_textual_makes_them(monkeypatch)
    segments = [Segment("hello ", Style(color="red")), Segment("world", Style(bold=True))]
    textuals = Strip(segments)
    assert len(_caches_of(textuals)) == 7
    expected = _derived(textuals)
    assert cycles.lazy_strip_caches()
    line = Strip(segments)
    assert _caches_of(line) == []  # made with none
    assert line.crop(2, 9) is line.crop(2, 9)  # one asked for: made, and kept as Textual keeps it
    assert len(_caches_of(line)) == 1
    assert _derived(line) == expected
    fresh = Strip(segments)
    assert _derived(fresh) == expected and len(_caches_of(fresh)) == 7  # each made on its first use


def test_a_textual_whose_lines_changed_keeps_its_own(monkeypatch):
    _strips_as_textual_makes_them(monkeypatch)
    monkeypatch.setattr(Strip, "__slots__", [*Strip.__slots__, "_another_cache"])
    assert not cycles.lazy_strip_caches()
    assert Strip.__init__ is cycles._original["__init__"] and len(_caches_of(Strip([Segment("a")]))) == 7


@pytest.mark.asyncio
async def test_tab_switches_make_fewer_caches_than_lines(monkeypatch):
    _strips_as_textual_makes_them(monkeypatch)
    app = ChartuiApp()
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("2", "3", "4", "5", "1")
        await pilot.pause()
        alive = gc.get_objects()
        strips = sum(type(o) is Strip for o in alive)
        caches = sum(type(o) is FIFOCache for o in alive)
        del alive
    assert strips > 500 and caches < strips  # Textual's own Strip: seven for each line


@pytest.mark.asyncio
async def test_a_narrow_bar_leaves_whole_keys_out_and_keeps_help_on_screen(small_corpus, home):
    app = ChartuiApp(corpus=str(small_corpus))
    async with app.run_test(size=(80, 24)) as pilot:
        bar = app.query_one(KeyBar)
        await until(pilot, lambda: "s" in bar.shown_keys)  # the Train tab's keys: more than 80 columns of them
        line = bar.plain
        assert len(line) == 80 and line.rstrip().endswith("^p palette") and "…" in line
        left, right = line.split("…")
        assert right.split("▏")[0].strip() == "? Help"
        shown = [f" {d} {t} " for _k, d, t, _e in bar._keys]
        assert left.startswith(shown[0]) and all(part in shown for part in _entries(left, shown))
        x = line.index(" ? Help") + 1
        await pilot.click(KeyBar, offset=(x, 0))
        await until(pilot, lambda: app.screen is not app.screen_stack[0])  # the help screen


def _entries(text: str, known: list[str]) -> list[str]:
    """``text`` cut into the known entries it is made of, greedily from the left."""
    out = []
    while text.strip():
        match = next((k for k in known if text.startswith(k)), None)
        assert match is not None, f"a cut entry: {text!r}"
        out.append(match)
        text = text[len(match) :]
    return out


def _step_records(first: int, count: int) -> str:
    return "".join(
        json.dumps({"event": "step", "step": s, "chars_seen": 100 * s, "loss": 1000.0 - s}) + "\n"
        for s in range(first, first + count)
    )


def test_the_train_and_compare_curves_stay_within_their_points_however_long_a_run_is(tmp_path):
    """A run followed for days adds a point per step record; both charts' series halve past
    MAX_POINTS, keeping the curve's span and shape (here a falling line)."""
    metrics = tmp_path / "metrics.jsonl"
    metrics.write_text(_step_records(1, MAX_POINTS))
    curves = _Curves(str(tmp_path))
    history = RunHistory()
    for s in range(1, 3 * MAX_POINTS + 1):
        history.apply_record({"event": "step", "step": s, "chars_seen": 100 * s, "loss": 1000.0 - s})
    for first in (MAX_POINTS + 1, 2 * MAX_POINTS + 1):
        xs, ys = curves.read()["train"]
        assert len(xs) == len(ys) and MAX_POINTS // 2 <= len(xs) <= MAX_POINTS
        with metrics.open("a") as fh:
            fh.write(_step_records(first, MAX_POINTS))
    xs, ys = curves.read()["train"]
    steps, losses, _, _ = history.series()
    for x, y, scale in ((xs, ys, 100), (steps, losses, 1)):
        assert MAX_POINTS // 2 <= len(x) <= MAX_POINTS
        assert x[0] < 0.01 * x[-1] and x[-1] >= (3 * MAX_POINTS - 8) * scale  # still the whole run
        assert all(b < a for a, b in itertools.pairwise(y))  # still falling
        assert y[-1] == pytest.approx(1000.0 - x[-1] / scale, abs=8)
