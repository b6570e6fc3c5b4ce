"""The app, driven with Textual's pilot: each tab's main flow with a tiny seeded model."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import pytest

from chartui.engine import checkpoint as ck
from chartui.ui.app import ChartuiApp
from chartui.ui.messages import EngineEvent
from chartui.ui.screens import ConfirmQuit, HelpScreen
from chartui.ui.tabs.data import DataTab
from chartui.ui.tabs.gates import GatesTab
from chartui.ui.tabs.generate import GenerateTab
from chartui.ui.widgets.gate_view import GateText
from chartui.ui.widgets.sample_view import SampleView

TINY = {"hidden": 16, "embed": 8, "seq_len": 16, "batch_size": 8, "lr": 0.01, "checkpoint_seconds": 3600.0}
SIZE = (120, 36)


async def _until(pilot, condition, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting for the app")
        await pilot.pause(0.05)


def _app(small_corpus, **overrides) -> ChartuiApp:
    return ChartuiApp(corpus=str(small_corpus), preset="seed", overrides={**TINY, **overrides})


def _static_text(app, selector: str) -> str:
    return str(app.query_one(selector).render())


@pytest.mark.asyncio
async def test_train_tab_trains_and_shows_the_loss_falling(small_corpus, home):
    seen = []
    app = _app(small_corpus, max_steps=60, eval_interval=30, sample_interval=30)
    async with app.run_test(size=SIZE, message_hook=seen.append) as pilot:
        await pilot.press("s")
        await _until(pilot, lambda: app.train_tab.history.finished is not None)
        await app.workers.wait_for_complete()
        await pilot.pause(0.3)
        h = app.train_tab.history
        assert len(h.losses) == 60 and h.losses[-1] < h.losses[0] - 0.5
        assert [e[0] for e in h.evals] == [30, 60] and len(h.samples) >= 2
        stats = _static_text(app, "#train-stats")
        assert "finished" in stats and "step 60" in stats and "chars/s" in stats
        assert "step 60" in _static_text(app, "#samples-text")
        finished = [m.event for m in seen if isinstance(m, EngineEvent) and m.event.kind == "finished"]
        assert finished and finished[0].reason == "budget"
        run = finished[0].run
        assert (home / "checkpoints") in Path(run).parents
        assert app.active_run == run
        assert not app.query_one("#start").disabled  # ready for the next run


@pytest.mark.asyncio
async def test_pause_resume_and_stop(small_corpus):
    app = _app(small_corpus, max_steps=100_000)
    async with app.run_test(size=SIZE) as pilot:
        tab = app.train_tab
        await pilot.press("s")
        await _until(pilot, lambda: tab.history.latest is not None and tab.history.latest["step"] >= 5)
        await pilot.press("p")
        await _until(pilot, lambda: tab.history.paused)
        held = tab.history.latest["step"]
        await pilot.pause(0.4)
        assert tab.history.latest["step"] == held and "paused" in _static_text(app, "#train-stats")
        await pilot.press("p")
        await _until(pilot, lambda: tab.history.latest["step"] > held + 3)
        await pilot.press("x")
        await _until(pilot, lambda: tab.history.finished is not None)
        await app.workers.wait_for_complete()
        assert tab.history.finished["reason"] == "stopped"
        meta = ck.read_header(Path(tab.history.finished["run"]) / ck.LAST).meta
        assert meta["status"] == "stopped"


@pytest.mark.asyncio
async def test_quitting_while_training_asks_first_and_saves(small_corpus, home):
    app = _app(small_corpus, max_steps=100_000)
    async with app.run_test(size=SIZE) as pilot:
        tab = app.train_tab
        await pilot.press("s")
        await _until(pilot, lambda: tab.history.latest is not None and tab.history.latest["step"] >= 3)
        await pilot.press("ctrl+q")
        await pilot.pause(0.2)
        assert isinstance(app.screen, ConfirmQuit)
        await pilot.press("n")  # keep training
        await pilot.pause(0.2)
        assert not isinstance(app.screen, ConfirmQuit) and tab.is_training
        await pilot.press("ctrl+q")
        await pilot.pause(0.1)
        start = time.monotonic()
        await pilot.press("y")
        await _until(pilot, lambda: not tab.is_training, timeout=10)
    assert time.monotonic() - start < 5
    runs = list((home / "checkpoints").iterdir())
    assert len(runs) == 1 and ck.read_header(runs[0] / ck.LAST).meta["status"] == "stopped"


@pytest.mark.asyncio
async def test_generate_streams_and_the_temperature_keys_act_while_streaming(tiny_run):
    app = ChartuiApp(run=str(tiny_run))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("2")
        tab = app.query_one(GenerateTab)
        assert tab.run_choice == str(tiny_run)
        await pilot.press("r")
        view = app.query_one("#gen-view-0", SampleView)
        await _until(pilot, lambda: len(view.text) >= 5)
        await pilot.press("plus", "plus")
        assert tab.temperature == pytest.approx(1.0)
        assert all(s.temperature == pytest.approx(1.0) for s in tab._samplers)
        assert "T 1.00" in _static_text(app, "#gen-status")
        before = len(view.text)
        await _until(pilot, lambda: len(view.text) > before + 5)
        await pilot.press("minus")
        assert tab.temperature == pytest.approx(0.9)
        await pilot.press("k", "p", "g")
        assert tab.top_k == 40 and tab.top_p == 0.95 and tab.greedy
        assert tab._samplers[0].temperature == 0.0
        await pilot.press("o")
        assert view.colour_by_probability
        await pilot.press("right_square_bracket", "right_square_bracket", "right_square_bracket")
        await pilot.press("t")  # the same prompt at three temperatures
        await _until(pilot, lambda: all(len(app.query_one(f"#gen-view-{i}", SampleView).text) > 3 for i in range(3)))
        titles = [str(app.query_one(f"#gen-title-{i}").render()) for i in range(3)]
        assert titles == ["T = 0.50", "T = 1.00", "T = 1.50"]  # the chapter's three temperatures
        await pilot.press(*["left_square_bracket"] * 6)  # the slowest speed, then pause mid-stream
        await pilot.press("r")
        await _until(pilot, lambda: tab._streaming and len(app.query_one("#gen-view-0", SampleView).text) > 0)
        await pilot.press("space")
        await pilot.pause(0.1)
        assert "paused" in _static_text(app, "#gen-status")
        held = len(app.query_one("#gen-view-0", SampleView).text)
        await pilot.pause(0.3)
        assert len(app.query_one("#gen-view-0", SampleView).text) == held
        tab.stop()


@pytest.mark.asyncio
async def test_gates_tab_traces_and_moves_between_units_gates_and_characters(tiny_run):
    app = ChartuiApp(run=str(tiny_run))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("3")
        tab = app.query_one(GatesTab)
        await _until(pilot, lambda: tab.trace is not None)
        await pilot.pause(0.2)
        assert tab.gate == "cell" and "unit" in _static_text(app, "#gates-status")
        first_unit = tab.unit
        await pilot.press("down")
        assert tab.unit == (first_unit + 1) % 16
        await pilot.press("g")
        assert tab.gate == "hidden"
        await pilot.press("l")
        assert tab.gate_layer == 1
        await pilot.press("right", "right")
        text = app.query_one(GateText)
        assert text.cursor == 2
        detail = _static_text(app, "#gates-detail")
        assert "next character" in detail and "unit" in detail and "%" in detail
        heat = _static_text(app, "#gates-heatmap")
        assert f"#{tab.unit}" in heat
        assert app.query_one("#gates-rank").row_count > 0
        await pilot.press("e")
        assert app.focused.id == "gates-input"
        await pilot.press("escape")
        assert isinstance(app.focused, GateText)


@pytest.mark.asyncio
async def test_gates_accept_a_10000_character_paste(tiny_run):
    app = ChartuiApp(run=str(tiny_run))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("3")
        tab = app.query_one(GatesTab)
        vocab = ck.load_checkpoint(tiny_run / ck.BEST).meta["vocab"]
        letters = "".join(c for c in vocab if c.isalpha() or c in " \n,.")
        app.query_one("#gates-input").text = (letters * 400)[:10_000]
        await _until(pilot, lambda: tab.trace is not None and len(tab.trace.text) == 10_000, timeout=60)
        await pilot.press("end")
        await pilot.pause(0.05)
        assert app.query_one(GateText).cursor == 9_999


@pytest.mark.asyncio
async def test_data_tab_shows_the_histogram(small_corpus):
    app = _app(small_corpus)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("4")
        tab = app.query_one(DataTab)
        await _until(pilot, lambda: tab.stats is not None)
        await pilot.pause(0.1)
        assert tab.stats["chars"] == 40_000 and len(tab.stats["top"]) == 30
        assert "40,000" in _static_text(app, "#data-summary")
        histogram = app.query_one("#data-histogram").content
        assert histogram.title == "Top 30 characters" and histogram.row_count == 30


@pytest.mark.asyncio
async def test_data_tab_describes_the_corpus_of_an_opened_run(tiny_run, small_corpus):
    app = ChartuiApp(run=str(tiny_run))  # the app's own default corpus is the bundled Shakespeare
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("4")
        tab = app.query_one(DataTab)
        await _until(pilot, lambda: tab.stats is not None)
        assert tab.stats["source"] == str(small_corpus.resolve()) and tab.stats["chars"] == 40_000


@pytest.mark.asyncio
async def test_compare_tab_lists_runs_and_opens_one(tiny_run, home):
    shutil.copytree(tiny_run, home / "checkpoints" / "tiny-a", ignore=shutil.ignore_patterns(ck.LOCK))
    shutil.copytree(tiny_run, home / "checkpoints" / "tiny-b", ignore=shutil.ignore_patterns(ck.LOCK))
    app = ChartuiApp()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("5")
        await pilot.pause(0.2)
        table = app.query_one("#compare-table")
        assert table.row_count == 2
        await pilot.press("enter")
        await pilot.pause(0.2)
        assert app.active_run.endswith("tiny-b") or app.active_run.endswith("tiny-a")
        assert app.train_tab.history.evals  # the opened run's curves are shown


@pytest.mark.asyncio
async def test_a_headless_run_is_followed_live(small_corpus, tmp_path):
    from chartui.engine.train import Trainer
    from tests.conftest import tiny_configs

    m, t = tiny_configs(small_corpus, max_steps=100_000, metrics_every=5)
    trainer = Trainer.new(m, t, run=tmp_path / "elsewhere")
    events = iter(trainer)
    for _ in range(20):
        next(events)  # started + some steps: metrics.jsonl exists, the lock is held
    app = ChartuiApp(run=str(tmp_path / "elsewhere"))
    async with app.run_test(size=SIZE) as pilot:
        tab = app.train_tab
        assert tab.follower is not None
        before = tab.history.latest["step"]
        for _ in range(30):
            next(events)
        await _until(pilot, lambda: tab.history.latest["step"] > before)
        assert "following" in _static_text(app, "#train-stats")
        await pilot.press("s")  # cannot train a run another process is training
    trainer.stop()
    for _ in events:
        pass


@pytest.mark.asyncio
async def test_too_small_terminal_shows_a_notice(small_corpus):
    app = _app(small_corpus)
    async with app.run_test(size=(60, 20)) as pilot:
        await pilot.pause(0.1)
        assert app.screen.has_class("too-small")
        assert "Terminal too small" in _static_text(app, "#too-small")
        await pilot.resize_terminal(100, 30)
        await pilot.pause(0.1)
        assert not app.screen.has_class("too-small")


@pytest.mark.asyncio
async def test_help_and_command_palette_commands(small_corpus):
    app = _app(small_corpus)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("question_mark")
        await pilot.pause(0.1)
        assert isinstance(app.screen, HelpScreen)
        await pilot.press("escape")
        await pilot.pause(0.1)
        titles = {c.title for c in app.get_system_commands(app.screen)}
        assert {"Start training", "Stop training", "Compare temperatures", "Trace gates"} <= titles


@pytest.mark.asyncio
async def test_bad_form_values_are_reported_not_raised(small_corpus):
    app = _app(small_corpus)
    async with app.run_test(size=SIZE) as pilot:
        app.query_one("#hidden").value = "0"
        await pilot.press("s")
        await pilot.pause(0.1)
        assert not app.train_tab.is_training
        assert any("--hidden must be" in n.message for n in app._notifications)
        app.query_one("#hidden").value = "lots"
        app.train_tab.action_start()
        await pilot.pause(0.1)
        assert any("Hidden must be a whole number" in n.message for n in app._notifications)


@pytest.mark.asyncio
async def test_no_color_shades_the_heatmap(tiny_run, monkeypatch):
    monkeypatch.setenv("NO_COLOR", "1")
    app = ChartuiApp(run=str(tiny_run))
    async with app.run_test(size=SIZE) as pilot:
        assert app.no_color
        await pilot.press("3")
        await _until(pilot, lambda: app.query_one(GatesTab).trace is not None)
        await pilot.pause(0.2)
        heat = _static_text(app, "#gates-heatmap")
        assert any(ch in heat for ch in ".:-=+*#%@")


@pytest.mark.asyncio
async def test_start_after_a_finished_run_begins_a_new_run(small_corpus, home):
    app = _app(small_corpus, max_steps=8)
    async with app.run_test(size=SIZE) as pilot:
        tab = app.train_tab
        tab.action_start()
        tab.action_start()  # a second Start while the first run loads does nothing
        await _until(pilot, lambda: tab.history.finished is not None and not tab.is_training)
        assert len(list((home / "checkpoints").iterdir())) == 1
        app.query_one("#arch").value = "gru"
        await pilot.pause(0.1)
        tab.action_start()
        await _until(pilot, lambda: len(list((home / "checkpoints").iterdir())) == 2 and tab.history.finished is not None
                     and not tab.is_training)
        runs = sorted((home / "checkpoints").iterdir())
        assert len(runs) == 2 and {ck.run_summary(r)["arch"] for r in runs} == {"lstm", "gru"}


@pytest.mark.asyncio
async def test_an_opened_run_continues_when_the_form_still_describes_it(tiny_run, home):
    run = home / "checkpoints" / "tiny"
    shutil.copytree(tiny_run, run, ignore=shutil.ignore_patterns(ck.LOCK))
    steps = ck.read_header(run / ck.LAST).meta["step"]
    app = ChartuiApp(run=str(run))
    async with app.run_test(size=SIZE) as pilot:
        tab = app.train_tab
        assert str(app.query_one("#start").label) == "Continue"
        app.query_one("#max_seconds").value = "1.5"
        tab.action_start()
        await _until(pilot, lambda: tab.history.finished is not None and not tab.is_training, timeout=60)
        assert tab.history.started["resumed"] is True and tab.history.latest["step"] > steps
        assert len(list((home / "checkpoints").iterdir())) == 1


@pytest.mark.asyncio
async def test_following_a_run_whose_trainer_died(small_corpus, tmp_path):
    from chartui.engine.train import Trainer
    from tests.conftest import tiny_configs

    m, t = tiny_configs(small_corpus, max_steps=100_000)
    trainer = Trainer.new(m, t, run=tmp_path / "elsewhere")
    events = iter(trainer)
    for _ in range(30):  # past the first metrics record (steps are logged in groups)
        next(events)
    app = ChartuiApp(run=str(tmp_path / "elsewhere"))
    async with app.run_test(size=SIZE) as pilot:
        tab = app.train_tab
        assert tab.follower is not None
        trainer._lock.release()  # what the kernel does when a trainer is killed
        await _until(pilot, lambda: tab.follower is None)
        await pilot.pause(0.1)
        assert any("stopped being trained" in n.message for n in app._notifications)
        assert str(app.query_one("#start").label) == "Resume"
        assert "interrupted" in _static_text(app, "#train-stats")
