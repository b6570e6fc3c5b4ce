"""The app, driven with Textual's pilot: each tab's main flow with a tiny seeded model.

Every wait is on a condition (``until``); keys sent while a worker trains or streams go
through ``keys``, which does not wait for the process to go idle (it never does then)."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.command import CommandList, CommandPalette
from textual.notifications import Notify

from chartui.engine import runs
from chartui.engine.checkpoint import read_meta
from chartui.engine.runs import Run
from chartui.ui.app import ChartuiApp
from chartui.ui.screens import ConfirmQuit, HelpScreen
from chartui.ui.tabs.data import DataTab
from chartui.ui.tabs.gates import GatesTab
from chartui.ui.tabs.generate import GenerateTab
from chartui.ui.tabs.train import TrainTab
from chartui.ui.widgets.gate_view import GateHeatmap, GateText
from chartui.ui.widgets.sample_view import SampleView
from tests.conftest import copy_run, keys, tiny_configs, until

TINY = {"hidden": 16, "embed": 8, "seq_len": 16, "batch_size": 8, "lr": 0.01, "checkpoint_seconds": 3600.0, "precision": "fp32"}
SIZE = (120, 36)


def _app(small_corpus, **overrides) -> ChartuiApp:
    return ChartuiApp(corpus=str(small_corpus), preset="seed", overrides={**TINY, **overrides})


def _text(app, selector: str) -> str:
    # The status lines join each phrase's words with no-break spaces (they wrap between phrases).
    return str(app.query_one(selector).render()).replace("\u00a0", " ")


def _notes(seen: list) -> list[str]:
    return [m.notification.message for m in seen if isinstance(m, Notify)]


@pytest.mark.asyncio
async def test_train_tab_trains_and_shows_the_loss_falling(small_corpus, home):
    app = _app(small_corpus, max_steps=60, eval_interval=30, sample_interval=30)
    async with app.run_test(size=SIZE) as pilot:
        tab = app.query_one(TrainTab)
        await keys(app, "s")
        await until(
            pilot, lambda: tab.history.finished is not None and not tab.is_training and "finished" in _text(app, "#train-stats")
        )
        h = tab.history
        assert len(h.losses) == 60 and h.losses[-1] < h.losses[0] - 0.5
        assert [e[0] for e in h.evals] == [30, 60] and len(h.samples) >= 2
        stats = _text(app, "#train-stats")
        assert "step 60" in stats and "chars/s" in stats
        assert "step 60" in _text(app, "#samples-text")
        run = Path(h.finished["run"])
        assert h.finished["reason"] == "budget" and (home / "checkpoints") in run.parents
        await until(pilot, lambda: app.active_run is not None and not app.active_run.live)
        assert app.active_run.path == run  # what every other tab now shows
        assert not app.query_one("#start").disabled  # ready for the next run


@pytest.mark.asyncio
async def test_pause_resume_and_stop(small_corpus):
    app = _app(small_corpus, max_steps=100_000)
    async with app.run_test(size=SIZE) as pilot:
        tab = app.query_one(TrainTab)
        await keys(app, "s")
        await until(pilot, lambda: tab.history.latest is not None and tab.history.latest["step"] >= 5)
        await keys(app, "p")
        # Steps reach the tab before the Paused event does, so from here the count is final
        # until "p" again (tests/engine/test_train.py proves the trainer itself holds).
        await until(pilot, lambda: tab.history.paused and "paused" in _text(app, "#train-stats"))
        held = tab.history.latest["step"]
        assert tab.trainer.paused and tab.trainer.step == held
        await keys(app, "p")
        await until(pilot, lambda: tab.history.latest["step"] > held + 3)
        await keys(app, "x")
        await until(pilot, lambda: tab.history.finished is not None and not tab.is_training)
        assert tab.history.finished["reason"] == "stopped"
        assert read_meta(Path(tab.history.finished["run"]) / runs.LAST).state["status"] == "stopped"


@pytest.mark.asyncio
async def test_quitting_while_training_asks_first_and_saves(small_corpus, home):
    app = _app(small_corpus, max_steps=100_000)
    async with app.run_test(size=SIZE) as pilot:
        tab = app.query_one(TrainTab)
        await keys(app, "s")
        await until(pilot, lambda: tab.history.latest is not None and tab.history.latest["step"] >= 3)
        await keys(app, "ctrl+q")
        await until(pilot, lambda: isinstance(app.screen, ConfirmQuit))
        await keys(app, "n")  # keep training
        await until(pilot, lambda: not isinstance(app.screen, ConfirmQuit))
        assert tab.is_training
        await keys(app, "ctrl+q")
        await until(pilot, lambda: isinstance(app.screen, ConfirmQuit))
        await keys(app, "y")
        await until(pilot, lambda: not tab.is_training)
    (run,) = list((home / "checkpoints").iterdir())
    assert read_meta(run / runs.LAST).state["status"] == "stopped"


@pytest.mark.asyncio
async def test_generate_streams_and_the_temperature_keys_act_while_streaming(tiny_run):
    app = ChartuiApp(run=str(tiny_run))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("2")
        tab = app.query_one(GenerateTab)
        assert tab.run_choice == str(tiny_run)
        view = app.query_one("#gen-view-0", SampleView)
        await keys(app, "r")
        await until(pilot, lambda: len(view.text) >= 5 and tab.samplers)
        await keys(app, "plus", "plus")
        await until(pilot, lambda: "T 1.00" in _text(app, "#gen-status"))
        assert tab.temperature == pytest.approx(1.0) and all(s.temperature == pytest.approx(1.0) for s in tab.samplers)
        before = len(view.text)
        await until(pilot, lambda: len(view.text) > before + 5)  # the new temperature streams on
        await keys(app, "minus", "k", "p", "g", "o")
        await until(pilot, lambda: view.colour_by_probability)
        assert tab.temperature == pytest.approx(0.9) and tab.top_k == 40 and tab.top_p == 0.95 and tab.greedy
        assert tab.samplers[0].temperature == 0.0 and tab.samplers[0].top_k == 40
        await keys(app, "t")  # the same prompt at three temperatures
        columns = [app.query_one(f"#gen-view-{i}", SampleView) for i in range(3)]
        await until(pilot, lambda: all(len(c.text) > 3 for c in columns))
        assert [_text(app, f"#gen-title-{i}") for i in range(3)] == ["T = 0.50", "T = 1.00", "T = 1.50"]  # the chapter's three
        await keys(app, *["left_square_bracket"] * 6, "r")  # the slowest speed, then pause mid-stream
        await until(pilot, lambda: len(view.text) > 0 and tab.samplers)
        await keys(app, "space")
        await until(pilot, lambda: tab.holding.is_set() and "paused" in _text(app, "#gen-status"))
        view.drain()
        held = len(view.text)
        view.drain()
        assert len(view.text) == held  # nothing made while held
        await keys(app, "space")
        await until(pilot, lambda: len(view.text) > held)
        tab.stop()


@pytest.mark.asyncio
async def test_gates_tab_traces_and_moves_between_units_gates_and_characters(tiny_run):
    app = ChartuiApp(run=str(tiny_run))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("3")
        tab = app.query_one(GatesTab)
        await until(pilot, lambda: tab.trace is not None and "unit" in _text(app, "#gates-status"))
        assert tab.gate == "cell"  # an LSTM's default gate, as in `chartui gates`
        first_unit = tab.unit
        await pilot.press("down")
        assert tab.unit == (first_unit + 1) % 16
        await pilot.press("g")
        assert tab.gate == "hidden"
        await pilot.press("l")
        assert tab.gate_layer == 1
        await pilot.press("right", "right")
        assert app.query_one(GateText).cursor == 2
        await until(pilot, lambda: "next character" in _text(app, "#gates-detail"))
        detail = _text(app, "#gates-detail")
        assert "unit" in detail and "%" in detail
        assert f"#{tab.unit}" in app.query_one(GateHeatmap).plain
        assert app.query_one("#gates-rank").row_count > 0
        await pilot.press("e")
        assert app.focused.id == "gates-input"
        await pilot.press("escape")
        assert isinstance(app.focused, GateText)


@pytest.mark.asyncio
async def test_data_tab_shows_the_histogram(small_corpus):
    app = _app(small_corpus)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("4")
        tab = app.query_one(DataTab)
        await until(pilot, lambda: tab.stats is not None and "40,000" in _text(app, "#data-summary"))
        assert tab.stats["chars"] == 40_000 and len(tab.stats["top"]) == 30
        histogram = app.query_one("#data-histogram").content
        assert histogram.title == "Top 30 characters" and histogram.row_count == 30


@pytest.mark.asyncio
async def test_data_tab_describes_the_corpus_of_an_opened_run(tiny_run, small_corpus):
    app = ChartuiApp(run=str(tiny_run))  # the app's own default corpus is the bundled Shakespeare
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("4")
        tab = app.query_one(DataTab)
        await until(pilot, lambda: tab.stats is not None)
        assert tab.stats["source"] == str(small_corpus.resolve()) and tab.stats["chars"] == 40_000


@pytest.mark.asyncio
async def test_compare_tab_lists_runs_and_opens_one(tiny_run, home):
    copy_run(tiny_run, home / "checkpoints" / "tiny-a")
    copy_run(tiny_run, home / "checkpoints" / "tiny-b")
    (home / "checkpoints" / "broken").mkdir()  # a run whose metrics.jsonl is unreadable
    (home / "checkpoints" / "broken" / runs.RUN_JSON).write_text((tiny_run / runs.RUN_JSON).read_text())
    (home / "checkpoints" / "broken" / runs.METRICS).mkdir()
    app = ChartuiApp()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("5")
        table = app.query_one("#compare-table")
        await until(pilot, lambda: table.row_count == 3)
        table.move_cursor(row=[str(r.path) for r in app.query_one("CompareTab").runs].index(str(home / "checkpoints" / "tiny-a")))
        await pilot.press("enter")
        await until(pilot, lambda: app.active_run is not None and app.active_run.path.name == "tiny-a")
        await until(pilot, lambda: app.query_one(TrainTab).history.evals)  # the opened run's curves are shown


@pytest.mark.asyncio
async def test_a_headless_run_is_followed_live_and_cannot_be_started_twice(small_corpus, tmp_path, home):
    from chartui.engine.train import Trainer

    m, t = tiny_configs(small_corpus, max_steps=100_000, metrics_every=5)
    trainer = Trainer.new(m, t, run=tmp_path / "elsewhere")
    events = iter(trainer)
    for _ in range(20):
        next(events)  # started + some steps: metrics.jsonl exists, the lock is held
    seen: list = []
    app = ChartuiApp(run=str(tmp_path / "elsewhere"))
    try:
        async with app.run_test(size=SIZE, message_hook=seen.append) as pilot:
            tab = app.query_one(TrainTab)
            assert tab.follower is not None
            before = tab.history.latest["step"]
            for _ in range(30):
                next(events)
            await until(pilot, lambda: tab.history.latest["step"] > before and "following" in _text(app, "#train-stats"))
            await keys(app, "s")  # cannot train a run another process is training
            await until(pilot, lambda: any("being trained by another process" in n for n in _notes(seen)))
            assert not tab.is_training and tab.trainer is None
    finally:
        trainer.stop()
        for _ in events:
            pass
    assert not (home / "checkpoints").exists()  # no second run was started either


@pytest.mark.asyncio
async def test_following_a_run_whose_trainer_died(small_corpus, tmp_path):
    from chartui.engine.train import Trainer

    m, t = tiny_configs(small_corpus, max_steps=100_000)
    trainer = Trainer.new(m, t, run=tmp_path / "elsewhere")
    events = trainer.events()
    for _ in range(30):  # past the first metrics record (steps are logged in groups)
        next(events)
    seen: list = []
    app = ChartuiApp(run=str(tmp_path / "elsewhere"))
    async with app.run_test(size=SIZE, message_hook=seen.append) as pilot:
        tab = app.query_one(TrainTab)
        assert tab.follower is not None
        events.close()  # the trainer vanishes without finishing, as after kill -9: its lock is gone
        await until(pilot, lambda: tab.follower is None and any("stopped being trained" in n for n in _notes(seen)))
        await until(pilot, lambda: "interrupted" in _text(app, "#train-stats"))
        assert str(app.query_one("#start").label) == "Resume"
        assert Run(tmp_path / "elsewhere").summary().status == "interrupted"


@pytest.mark.asyncio
async def test_help_and_a_command_run_from_the_palette(small_corpus):
    app = _app(small_corpus)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("question_mark")
        await until(pilot, lambda: isinstance(app.screen, HelpScreen))
        await pilot.press("escape")
        await until(pilot, lambda: not isinstance(app.screen, HelpScreen))
        titles = {c.title for c in app.get_system_commands(app.screen)}
        assert {"Start training", "Stop training", "Compare temperatures", "Trace gates"} <= titles
        await pilot.press("ctrl+p")
        await until(pilot, lambda: isinstance(app.screen, CommandPalette))
        await pilot.press(*"go to data")
        results = app.screen.query_one(CommandList)
        await until(pilot, lambda: results.option_count > 0 and "Go to Data" in str(results.get_option_at_index(0).prompt))
        await pilot.press("enter")
        await until(pilot, lambda: app.query_one("#tabs").active == "data")


@pytest.mark.asyncio
async def test_bad_form_values_are_reported_not_raised(small_corpus):
    seen: list = []
    app = _app(small_corpus)
    async with app.run_test(size=SIZE, message_hook=seen.append) as pilot:
        tab = app.query_one(TrainTab)
        app.query_one("#hidden").value = "0"
        await pilot.press("s")
        await until(pilot, lambda: any("--hidden must be" in n for n in _notes(seen)))
        assert not tab.is_training
        app.query_one("#hidden").value = "lots"
        tab.action_start()
        await until(pilot, lambda: any("Hidden must be a whole number" in n for n in _notes(seen)))
        assert not tab.is_training


@pytest.mark.asyncio
async def test_no_color_shades_the_heatmap(tiny_run, monkeypatch):
    monkeypatch.setenv("NO_COLOR", "1")
    app = ChartuiApp(run=str(tiny_run))
    async with app.run_test(size=SIZE) as pilot:
        assert app.no_color
        await pilot.press("3")
        await until(pilot, lambda: app.query_one(GatesTab).trace is not None and "#" in app.query_one(GateHeatmap).plain)
        heatmap = app.query_one(GateHeatmap)
        heat = heatmap.plain.split("\n", 1)[1]
        assert set(heat) & set(".:-=+*#%@")
        assert all(style is None or style.bgcolor is None for line in heatmap._lines for _, style in line)  # no colour


@pytest.mark.asyncio
async def test_start_after_a_finished_run_begins_a_new_run(small_corpus, home):
    app = _app(small_corpus, max_steps=8)
    async with app.run_test(size=SIZE) as pilot:
        tab = app.query_one(TrainTab)
        tab.action_start()
        tab.action_start()  # a second Start while the first run loads does nothing
        await until(pilot, lambda: tab.history.finished is not None and not tab.is_training)
        assert len(list((home / "checkpoints").iterdir())) == 1
        app.query_one("#arch").value = "gru"
        tab.action_start()
        await until(
            pilot,
            lambda: len(list((home / "checkpoints").iterdir())) == 2 and tab.history.finished is not None and not tab.is_training,
        )
        assert {Run(r).info.model.arch for r in (home / "checkpoints").iterdir()} == {"lstm", "gru"}


@pytest.mark.asyncio
async def test_an_opened_run_continues_when_the_form_still_describes_it(tiny_run, home):
    run = copy_run(tiny_run, home / "checkpoints" / "tiny")
    steps = read_meta(run / runs.LAST).state["step"]
    app = ChartuiApp(run=str(run))
    async with app.run_test(size=SIZE) as pilot:
        tab = app.query_one(TrainTab)
        assert str(app.query_one("#start").label) == "Continue"
        app.query_one("#max_seconds").value = "1.5"
        tab.action_start()
        await until(pilot, lambda: tab.history.finished is not None and not tab.is_training)
        assert tab.history.started["resumed"] is True and tab.history.latest["step"] > steps
        assert len(list((home / "checkpoints").iterdir())) == 1


@pytest.mark.asyncio
async def test_the_newest_run_is_there_to_generate_from_but_the_form_keeps_the_preset(tiny_run, small_corpus, home):
    old = copy_run(tiny_run, home / "checkpoints" / "old")
    before = {p.name: p.read_bytes() for p in old.iterdir()}
    app = _app(small_corpus, max_steps=5)  # `chartui ui --corpus small.txt --preset seed` with a run left from before
    async with app.run_test(size=SIZE) as pilot:
        tab = app.query_one(TrainTab)
        assert app.active_run is not None and app.active_run.path.name == "old"  # Generate and Gates use it
        assert str(app.query_one("#start").label) == "Start" and app.query_one("#corpus").value == str(small_corpus)
        assert app.query_one("#hidden").value == "16"  # the session's settings, not the old run's
        tab.action_start()
        await until(pilot, lambda: tab.history.finished is not None and not tab.is_training)
    assert len(list((home / "checkpoints").iterdir())) == 2  # a new run; the old one untouched
    assert {p.name: p.read_bytes() for p in old.iterdir()} == before
