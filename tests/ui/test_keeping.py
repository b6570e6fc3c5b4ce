"""What users keep and carry between sessions: generated text written to a file, gate traces
exported, beam search in Generate, the loss chart's views, a saved theme, remapped keys."""

from __future__ import annotations

import json

import pytest

from chartui.settings import load_settings
from chartui.ui.app import ChartuiApp
from chartui.ui.tabs.gates import GatesTab
from chartui.ui.tabs.generate import GenerateTab
from chartui.ui.tabs.train import TrainTab
from chartui.ui.widgets.loss_chart import LossChart, downsample, ema
from chartui.ui.widgets.sample_view import SampleView
from tests.conftest import keys, until

SIZE = (120, 36)


@pytest.fixture(autouse=True)
def settings_file(tmp_path, monkeypatch):
    path = tmp_path / "config.toml"
    monkeypatch.setenv("CHARTUI_CONFIG", str(path))
    return path


@pytest.mark.asyncio
async def test_generate_writes_what_is_shown_with_its_settings(tiny_run, home):
    app = ChartuiApp(run=str(tiny_run))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("2")
        tab = app.query_one(GenerateTab)
        view = app.query_one("#gen-view-0", SampleView)
        await keys(app, "w")  # nothing yet: a warning, no file
        await keys(app, "t")  # three temperatures side by side
        columns = [app.query_one(f"#gen-view-{i}", SampleView) for i in range(3)]
        await until(pilot, lambda: all(len(c.text) > 20 for c in columns))
        tab.stop()
        await until(pilot, lambda: not tab._streaming)
        await keys(app, "w")
        await until(pilot, lambda: list((home / "exports").glob("generate-*.txt")))
        (written,) = (home / "exports").glob("generate-*.txt")
        text = written.read_text()
        assert text.count("## column") == 3 and "temperature 0.5" in text and "temperature 1.5" in text
        assert str(tiny_run.name) in text and "seed 0" in text
        for column in columns:
            assert column.text in text  # every column, whole
        assert view.text


@pytest.mark.asyncio
async def test_beam_mode_shows_the_likeliest_text(tiny_run):
    from chartui.engine.runs import open_replay
    from chartui.engine.sample import beam_search

    loaded = open_replay(tiny_run)
    expected = beam_search(loaded.model, loaded.vocab, prompt="ROMEO:\n", length=600, beams=4, alpha=0.6)[0].text
    app = ChartuiApp(run=str(tiny_run))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("2")
        tab = app.query_one(GenerateTab)
        await keys(app, *["right_square_bracket"] * 6, "b")  # full speed, then beam mode
        view = app.query_one("#gen-view-0", SampleView)
        await until(pilot, lambda: not tab._streaming and len(view.text) == len(expected))
        assert view.text == expected and tab.mode == "beam" and "beam search" in str(app.query_one("#gen-title-0").render())


@pytest.mark.asyncio
async def test_gates_export_writes_the_trace_and_the_view(tiny_run, home):
    app = ChartuiApp(run=str(tiny_run))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("3")
        tab = app.query_one(GatesTab)
        await until(pilot, lambda: tab.trace is not None)
        await pilot.press("down", "x")
        await until(pilot, lambda: len(list((home / "exports").glob("gates-*"))) == 2)
        (data,) = (home / "exports").glob("gates-*.json")
        trace = json.loads(data.read_text())
        assert trace["unit"] == tab.unit and trace["gate"] == "cell" and trace["text"] == tab.trace.text
        assert len(trace["gates"]["cell"]) == len(tab.trace.text) and trace["ranking"]
        (svg,) = (home / "exports").glob("gates-*.svg")
        assert svg.read_text().startswith("<svg") and "Gates" in svg.read_text()


def test_the_chart_keeps_spikes_when_it_thins_points():
    xs = list(range(10_000))
    ys = [2.0] * 10_000
    ys[4321] = 9.0  # one divergent step
    ys[777] = 0.5
    dx, dy = downsample(xs, ys, 200)
    assert len(dx) <= 200 and max(dy) == 9.0 and min(dy) == 0.5 and 4321 in dx
    assert dx == sorted(dx)  # still a line, left to right
    smooth = ema([1.0] * 5 + [3.0] * 5)
    assert smooth[0] == 1.0 and 1.0 < smooth[6] < 3.0  # no start-up bias, then lagging


@pytest.mark.asyncio
async def test_smoothing_and_log_scale_keys(tiny_run):
    app = ChartuiApp(run=str(tiny_run))
    async with app.run_test(size=SIZE) as pilot:
        chart = app.query_one("#train-chart", LossChart)
        tab = app.query_one(TrainTab)
        await until(pilot, lambda: chart._lines and chart._lines[0][1])
        raw = list(chart._lines[0][2])
        tab.focus()
        await pilot.press("m")
        assert chart.smoothing == "ema" and chart._lines[0][2] != raw
        await pilot.press("l")
        assert chart.log_scale and max(chart._lines[0][2]) < 1.0  # log10 of losses of a few nats
        await pilot.press("m", "l")
        assert chart.smoothing == "none" and not chart.log_scale and chart._lines[0][2] == raw


@pytest.mark.asyncio
async def test_the_theme_chosen_in_the_app_is_there_next_time(settings_file):
    app = ChartuiApp()
    async with app.run_test(size=SIZE) as pilot:
        app.theme = "nord"
        await until(pilot, lambda: settings_file.is_file())
    assert load_settings().theme == "nord"
    settings_file.write_text('# mine\npreset = "cpu"\n' + settings_file.read_text() + '\n[keymap]\n"train.stop" = "f9"\n')
    app = ChartuiApp(settings=load_settings())
    async with app.run_test(size=SIZE) as pilot:
        assert app.theme == "nord"
        app.theme = "gruvbox"
        await until(pilot, lambda: load_settings().theme == "gruvbox")
    text = settings_file.read_text()
    assert "# mine" in text and 'preset = "cpu"' in text and '"train.stop" = "f9"' in text  # the rest kept


@pytest.mark.asyncio
async def test_a_keymap_in_the_settings_remaps_a_binding(tiny_run, settings_file):
    settings_file.write_text('[keymap]\n"generate.temperature_up" = "u"\n"no.such.binding" = "z"\n')
    app = ChartuiApp(run=str(tiny_run), settings=load_settings())
    seen: list = []
    async with app.run_test(size=SIZE, message_hook=seen.append) as pilot:
        await pilot.press("2")
        tab = app.query_one(GenerateTab)
        await pilot.press("u")
        assert tab.temperature == pytest.approx(0.9)  # the new key
        await pilot.press("plus")
        assert tab.temperature == pytest.approx(0.9)  # the old one is free again
        from textual.notifications import Notify

        assert any("no.such.binding" in m.notification.message for m in seen if isinstance(m, Notify))


@pytest.mark.asyncio
async def test_fine_tune_from_a_run_in_the_train_tab(tiny_run, small_corpus, tmp_path, home):
    from textual.widgets import Input, OptionList

    from chartui.engine.runs import list_runs
    from tests.conftest import copy_run

    source = copy_run(tiny_run, home / "checkpoints" / "source")
    new_text = tmp_path / "new.txt"
    new_text.write_text("To be, or not to be: that is the question. \u00e9\n" * 200)
    app = ChartuiApp(corpus=str(small_corpus), preset="seed", overrides={"max_steps": 5, "precision": "fp32"})
    async with app.run_test(size=SIZE) as pilot:
        tab = app.query_one(TrainTab)
        tab.action_fine_tune()
        await until(pilot, lambda: app.screen.query(OptionList))
        await pilot.press("enter")  # the only run: the source
        await until(pilot, lambda: tab.init_from == source)
        assert app.query_one("#hidden", Input).value == "16"  # the source's shape fills the form
        app.query_one("#corpus", Input).value = str(new_text)
        tab.focus()
        await pilot.press("s")
        await until(pilot, lambda: not tab.is_training and tab.history.finished is not None)
    (run,) = [r for r in list_runs() if r.path != source]
    info = json.loads((run.path / "run.json").read_text())
    assert info["init_from"]["run"] == str(source) and info["init_from"]["vocab_added"] == "\u00e9"


@pytest.mark.asyncio
@pytest.mark.parametrize("trouble", ["not a folder", "disk full"])
async def test_an_export_that_cannot_be_written_is_a_notice_not_a_crash(tiny_run, home, monkeypatch, trouble):
    if trouble == "not a folder":
        (home / "exports").write_text("a file where the folder should be")
    else:
        from chartui.engine import atomic
        from chartui.errors import SaveError

        def full(path, data):
            raise SaveError(
                f"cannot save {path.name} in {path.parent}: no space left on device; the previous {path.name} is intact"
            )

        monkeypatch.setattr(atomic, "atomic_write", full)
    app = ChartuiApp(run=str(tiny_run))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("2")
        tab = app.query_one(GenerateTab)
        await keys(app, "r")
        await until(pilot, lambda: len(app.query_one("#gen-view-0", SampleView).text) > 20)
        tab.stop()
        await until(pilot, lambda: not tab._streaming)
        await keys(app, "w")
        await until(pilot, lambda: any(n.severity == "error" for n in app._notifications))
        (notice,) = [n.message for n in app._notifications if n.severity == "error"]
        assert ("no space left" if trouble == "disk full" else "could not write to") in notice
        assert app.is_running  # still here: the user keeps what is on screen
