"""Keys first (chartui/ui/quiet.py): redraws nobody asked for skip a beat after a key, and
chores (a full garbage collection above all) wait for a moment without keys, or until they
are overdue. The clock is a test's own, so nothing here waits for real time to pass."""

from __future__ import annotations

import gc
import sys
import time

import pytest

from chartui import memory
from chartui.ui import quiet
from chartui.ui.app import COLLECT_EVERY, TRIM_EVERY, ChartuiApp
from chartui.ui.quiet import Quiet
from chartui.ui.tabs.train import TrainTab
from tests.conftest import keys, until


class Clock:
    def __init__(self) -> None:
        self.now = time.monotonic()  # where the real one is: what was stamped before stays in the past

    def __call__(self) -> float:
        return self.now


def test_a_due_chore_waits_for_a_moment_without_keys_and_runs_anyway_once_overdue():
    clock = Clock()
    start = clock.now
    q = Quiet(clock)
    done: list[str] = []
    q.add("collect", 15.0, lambda: done.append("collect"))
    clock.now += 14.0
    assert q.run_due() == [] and done == []  # not due yet
    for _ in range(10):  # keys keep coming while it is due: it waits
        clock.now += 0.5
        q.input()
        assert q.run_due() == []
    clock.now += quiet.BEFORE_CHORES  # the user stopped typing
    assert q.run_due() == ["collect"] and done == ["collect"]
    assert q.run_due() == []  # once per interval
    ran = clock.now
    while clock.now < ran + 2 * quiet.OVERDUE * 15.0:  # a user who never stops typing
        clock.now += 0.5
        q.input()
        if q.run_due():
            break
    assert done == ["collect", "collect"] and ran - start > 15.0
    assert quiet.OVERDUE * 15.0 <= clock.now - ran < quiet.OVERDUE * 15.0 + 0.5


def test_a_disabled_chore_stays_due_until_it_is_enabled():
    clock = Clock()
    q = Quiet(clock)
    ready = False
    q.add("collect", 5.0, lambda: None, enabled=lambda: ready)
    clock.now += 6.0
    assert q.run_due() == []
    ready = True
    assert q.run_due() == ["collect"]


def test_a_redraw_skips_its_turn_right_after_a_key_but_never_for_long():
    clock = Clock()
    q = Quiet(clock)
    drawn = clock.now
    assert q.may_redraw(drawn)  # no key yet
    q.input()
    assert not q.may_redraw(drawn)
    clock.now += quiet.AFTER_INPUT + 0.01  # (a clock of some 10^5 s rounds x + 0.3 - x below 0.3)
    assert q.may_redraw(drawn)
    while clock.now - drawn < quiet.LATEST_REDRAW:  # a key held down
        q.input()
        assert not q.may_redraw(drawn)
        clock.now += 0.1
    q.input()
    assert q.may_redraw(drawn)


@pytest.mark.asyncio
async def test_the_train_tab_answers_a_key_before_redrawing_its_chart(tiny_run):
    app = ChartuiApp(run=str(tiny_run))
    async with app.run_test(size=(120, 36)) as pilot:
        tab = app.query_one(TrainTab)
        await until(pilot, lambda: tab.opened is not None and tab.history.losses)
        clock = Clock()
        app.quiet.clock = clock
        tab._ticked_at = clock.now  # as if a tick had just drawn (one never held back is drawn at once)
        before = app.quiet.last_input
        await keys(app, "m")  # a key the Train tab handles (smoothing)
        await until(pilot, lambda: app.quiet.last_input != before)  # every key is noted
        assert app.quiet.last_input == clock.now
        # New points arrive (as from the trainer) right after the key: the tick leaves the chart...
        tab.history.apply_record({"event": "step", "step": tab.history.steps[-1] + 1, "loss": 1.0})
        tab._stats_changed()
        tab._tick()
        assert tab._chart_version != tab.history.version and tab._stats_stale
        # ...and draws it once the key has had its moment.
        clock.now += quiet.AFTER_INPUT + 0.01
        tab._tick()
        assert tab._chart_version == tab.history.version and not tab._stats_stale


@pytest.mark.asyncio
async def test_the_app_runs_full_collections_itself_once_settled_and_not_while_keys_come(small_corpus, monkeypatch):
    # chartui.memory.settle turns CPython's automatic full collections off; the app's chore
    # runs them instead, at a quiet moment. Freezing is process-wide: undone afterwards.
    monkeypatch.setattr(gc, "collect", lambda *a: full.append(a) or 0)
    full: list[tuple] = []
    threshold = gc.get_threshold()
    try:
        app = ChartuiApp(corpus=str(small_corpus))
        clock = Clock()
        app.quiet.clock = clock
        for chore in app.quiet.chores:
            chore.last = clock.now
        async with app.run_test(size=(120, 36)):
            clock.now += COLLECT_EVERY + quiet.BEFORE_CHORES
            assert "collect" not in app.quiet.run_due() and full == []  # not settled: CPython collects
            app._settled = 1
            memory.settle()
            full.clear()
            app.quiet.input()
            assert "collect" not in app.quiet.run_due() and full == []  # a key just came
            clock.now += quiet.BEFORE_CHORES
            assert "collect" in app.quiet.run_due() and full == [()]
            if sys.version_info < (3, 14):  # 3.14's incremental collector has no third threshold
                assert gc.get_threshold()[2] == memory.NEVER
    finally:
        gc.unfreeze()
        gc.set_threshold(*threshold)


@pytest.mark.asyncio
async def test_the_app_hands_heap_memory_back_between_runs_but_not_while_it_trains(small_corpus, home, monkeypatch):
    # A trainer frees and reallocates the same working set every step: a trim would only hand
    # back pages the next step faults in again (chartui.memory.trim). Once the run ends, the
    # trim is due at once.
    trims: list[bool] = []
    monkeypatch.setattr(memory, "trim", lambda: trims.append(True) or True)
    app = ChartuiApp(
        corpus=str(small_corpus),
        preset="seed",
        overrides={"hidden": 16, "embed": 8, "seq_len": 16, "batch_size": 8, "precision": "fp32"},
    )
    clock = Clock()
    app.quiet.clock = clock
    for chore in app.quiet.chores:
        chore.last = clock.now
    async with app.run_test(size=(120, 36)) as pilot:
        tab = app.query_one(TrainTab)
        clock.now += TRIM_EVERY + quiet.BEFORE_CHORES
        assert "trim" in app.quiet.run_due() and trims == [True]  # nothing trains: trimmed
        tab.action_start()
        await until(pilot, lambda: app.live_run is not None and tab.history.steps)
        clock.now += quiet.OVERDUE * TRIM_EVERY + 1  # overdue and quiet, and still not run
        assert "trim" not in app.quiet.run_due() and trims == [True]
        tab.action_stop()
        await until(pilot, lambda: app.live_run is None and not tab.is_training)
        # due at once (the fake clock has not moved): here, or by the app's own chores timer,
        # which may get there first
        await until(pilot, lambda: "trim" in app.quiet.run_due() or len(trims) == 2)
        assert trims == [True, True]
