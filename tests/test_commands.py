"""The commands added for users coming from char-rnn, torch-rnn and nanoGPT: sampling from a
prompt file and by beam search without torch, keeping gate views as SVG, deleting and renaming
runs, exporting metrics, shell completion, the key list and serving the app."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time

import pytest

from tests.conftest import PATIENCE, chartui, copy_run, exe, run_main


def test_sample_and_gates_never_import_torch(tiny_run):
    # The same code path as the command, in a fresh interpreter: torch must not be loaded.
    probe = (
        "import sys; from chartui.cli import main; "
        f"code = main(['sample', {str(tiny_run)!r}, '--length', '20']); "
        f"code |= main(['gates', {str(tiny_run)!r}, '--text', 'KING RICHARD']); "
        "print('TORCH' if 'torch' in sys.modules else 'NO-TORCH', code)"
    )
    res = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=PATIENCE)
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip().endswith("NO-TORCH 0")


def test_a_prompt_file_is_read_as_is(tiny_run, tmp_path):
    prompt = tmp_path / "prompt.txt"
    prompt.write_text("KING RICHARD:\nNow")
    code, out, err = run_main("sample", str(tiny_run), "--prompt-file", str(prompt), "--length", "10", "--json")
    assert code == 0, err
    assert json.loads(out)["prompt"] == "KING RICHARD:\nNow"
    prompt.write_text("KING\\nNow")  # a file is read as it is: its backslash stays a backslash
    code, _, err = run_main("sample", str(tiny_run), "--prompt-file", str(prompt), "--length", "10")
    assert code == 2 and "never saw: '\\\\'" in err
    code, _, err = run_main("sample", str(tiny_run), "--prompt-file", str(prompt), "--prompt", "x")
    assert code == 2 and "not both" in err
    code, _, err = run_main("sample", str(tiny_run), "--prompt-file", str(tmp_path / "missing.txt"))
    assert code == 2 and "cannot read --prompt-file" in err and "Traceback" not in err
    (tmp_path / "bin").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4)
    code, _, err = run_main("sample", str(tiny_run), "--prompt-file", str(tmp_path / "bin"))
    assert code == 2 and "binary" in err


def test_sample_by_beam_search(tiny_run):
    code, out, err = run_main("sample", str(tiny_run), "--beam", "3", "--length", "40", "--json")
    assert code == 0, err
    result = json.loads(out)
    assert len(result["beams"]) == 3 and all(len(b["text"]) == 40 for b in result["beams"])
    again = json.loads(run_main("sample", str(tiny_run), "--beam", "3", "--length", "40", "--json")[1])
    assert again["beams"] == result["beams"]  # deterministic
    code, out, _ = run_main("sample", str(tiny_run), "--beam", "3", "--length", "40", "--prompt", "KING")
    assert code == 0 and out.startswith("KING" + result["beams"][0]["text"][:0])
    code, _, err = run_main("sample", str(tiny_run), "--beam", "3", "--temperature", "0.5")
    assert code == 2 and "drop --temperature" in err
    code, _, err = run_main("sample", str(tiny_run), "--stop", "\\n")
    assert code == 2 and "--beam" in err


def test_gates_writes_its_view_as_svg(tiny_run, tmp_path):
    target = tmp_path / "view.svg"
    code, _, err = run_main("gates", str(tiny_run), "--text", "KING RICHARD:\\nNow", "--svg", str(target))
    assert code == 0, err
    svg = target.read_text().replace("&#160;", " ")
    assert svg.startswith("<svg") and "lstm layer 0, cell, unit" in svg and "Most interesting cell units" in svg
    code, _, err = run_main("gates", str(tiny_run), "--text", "KING", "--svg", str(tmp_path / "no" / "such" / "dir.svg"))
    assert code != 0 and "cannot" in err and "Traceback" not in err


def test_runs_can_be_renamed_and_deleted_and_nothing_else_is(tiny_run, home, tmp_path):
    runs = home / "checkpoints"
    copy_run(tiny_run, runs / "a")
    copy_run(tiny_run, runs / "b")
    (runs / "b" / "notes.md").write_text("mine")
    foreign = runs / "photos"
    foreign.mkdir()
    (foreign / "cat.jpg").write_bytes(b"\xff\xd8\xff")
    code, out, err = run_main("runs", "rename", "a", "renamed", "--json")
    assert code == 0, err
    assert json.loads(out)["to"] == str(runs / "renamed")
    assert (runs / "renamed" / "run.json").is_file() and not (runs / "a").exists()
    assert run_main("runs", "rename", "renamed", "b")[0] == 2  # an existing target
    # Without a terminal to ask on, deleting needs --yes; a folder that is not a run is refused.
    res = chartui("runs", "delete", "renamed", input="y\n")
    assert res.returncode == 2 and "--yes" in res.stderr and (runs / "renamed").exists()
    code, _, err = run_main("runs", "delete", "photos", "renamed", "--yes")
    assert code == 2 and "not a chartui run" in err
    assert (foreign / "cat.jpg").exists() and (runs / "renamed").exists()  # one bad name: nothing deleted
    code, out, err = run_main("runs", "delete", "renamed", "b", "--yes", "--json")
    assert code == 0, err
    done = json.loads(out)["deleted"]
    assert not (runs / "renamed").exists()
    assert (runs / "b" / "notes.md").read_text() == "mine" and not (runs / "b" / "run.json").exists()
    assert done[1]["kept"] == [str(runs / "b" / "notes.md")]


def test_a_run_being_trained_is_neither_deleted_nor_renamed(tiny_run, home):
    from chartui.engine.runs import RunLock

    run = copy_run(tiny_run, home / "checkpoints" / "busy")
    with RunLock(run):
        for args in (("delete", "busy", "--yes"), ("rename", "busy", "other")):
            code, _, err = run_main("runs", *args)
            assert code == 2 and "being trained" in err
    assert (run / "run.json").is_file()


def test_export_to_csv_and_tensorboard(tiny_run, tmp_path):
    code, out, err = run_main("export", str(tiny_run), "--to", "csv")
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0].startswith("event,step,epoch") and any(line.startswith("eval,") for line in lines)
    assert run_main("export", str(tiny_run), "--to", "tensorboard")[0] == 2  # needs --out
    pytest.importorskip("tensorboard", reason="the tensorboard extra is not installed")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    code, out, err = run_main("export", str(tiny_run), "--to", "tensorboard", "--out", str(tmp_path / "tb"), "--json")
    assert code == 0, err
    assert json.loads(out)["records"] > 0
    events = EventAccumulator(str(tmp_path / "tb"))
    events.Reload()
    assert {"train/loss", "val/loss", "val/bits_per_char"} <= set(events.Tags()["scalars"])
    assert [s.step for s in events.Scalars("val/loss")] == [30, 60]


def test_train_writes_tensorboard_logs_live(small_corpus, tmp_path):
    pytest.importorskip("tensorboard", reason="the tensorboard extra is not installed")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    from tests.conftest import TINY_FLAGS

    code, _, err = run_main(
        "train", "--corpus", str(small_corpus), *TINY_FLAGS, "--max-steps", "20", "--eval-interval", "10",
        "--sample-interval", "10", "--run", str(tmp_path / "run"), "--tensorboard", str(tmp_path / "tb"),
    )  # fmt: skip
    assert code == 0, err
    events = EventAccumulator(str(tmp_path / "tb"))
    events.Reload()
    assert [s.step for s in events.Scalars("val/loss")] == [10, 20]
    assert events.Scalars("train/loss") and events.Tags()["tensors"]  # the samples, as text


def test_completion_scripts_know_the_commands():
    res = chartui("completion", "bash")
    assert res.returncode == 0 and "chartui" in res.stdout
    for command in ("train", "sample", "gates", "serve", "export"):
        assert command in res.stdout
    assert chartui("completion", "zsh").returncode == 0
    assert chartui("completion", "fish").returncode == 2


def test_keys_lists_every_binding_with_its_id(tmp_path):
    config = tmp_path / "config.toml"
    config.write_text('[keymap]\n"generate.temperature_up" = "ctrl+up"\n')
    res = chartui("keys", "--json", env={"CHARTUI_CONFIG": str(config)})
    assert res.returncode == 0, res.stderr
    rows = {r["id"]: r for r in json.loads(res.stdout)["bindings"]}
    assert {"app.quit", "train.start", "generate.write", "gates.export", "train.smoothing"} <= set(rows)
    assert (
        rows["generate.temperature_up"]["keys"] == "ctrl+up" and rows["generate.temperature_up"]["default"] == "plus,equals_sign"
    )
    assert all(r["id"] for r in rows.values())


def test_serve_refuses_bad_addresses_and_warns_off_loopback(tmp_path):
    assert run_main("serve", "--port", "0")[0] == 2
    assert run_main("serve", "--port", "70000")[0] == 2
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        code, _, err = run_main("serve", "--port", str(taken.getsockname()[1]))
        assert code == 2 and "in use" in err
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = subprocess.Popen(
        [exe(), "serve", "--host", "0.0.0.0", "--port", str(port), "--json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        first = json.loads(server.stdout.readline())
        assert first["url"] == f"http://127.0.0.1:{port}" and first["host"] == "0.0.0.0"
        deadline = time.monotonic() + PATIENCE
        warning = ""
        while "warning" not in warning and time.monotonic() < deadline:
            warning += server.stderr.readline()
        assert "anyone who can reach" in warning
    finally:
        server.terminate()
        server.wait(timeout=PATIENCE)


def test_ui_accepts_textual_serves_web_driver_without_a_terminal():
    # textual-serve starts the app with pipes and TEXTUAL_DRIVER set to the web driver: that is
    # not "no terminal", so the app must not refuse (it then waits for the browser's messages).
    proc = subprocess.Popen(
        [exe(), "ui"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={
            **__import__("os").environ,
            "TEXTUAL_DRIVER": "textual.drivers.web_driver:WebDriver",
            "COLUMNS": "100",
            "ROWS": "30",
        },
    )
    try:
        head = proc.stdout.read(4)  # the web driver's packet framing, not an error line
        assert head and proc.poll() is None
    finally:
        proc.kill()
        proc.wait()
    res = chartui("ui", input="")
    assert res.returncode == 2 and "interactive terminal" in res.stderr


def test_the_settings_file_gives_defaults_and_a_bad_one_is_one_line(small_corpus, tmp_path):
    config = tmp_path / "config.toml"
    config.write_text(f'corpus = "{small_corpus}"\npreset = "seed"\n')
    env = {"CHARTUI_CONFIG": str(config)}
    res = chartui(
        "train", "--hidden", "16", "--embed", "8", "--seq-len", "16", "--batch-size", "8", "--max-steps", "2",
        "--precision", "fp32", "--json", "--run", str(tmp_path / "run"), env=env,
    )  # fmt: skip
    assert res.returncode == 0, res.stderr
    info = json.loads((tmp_path / "run" / "run.json").read_text())
    assert info["preset"] == "seed" and info["train"]["corpus"] == str(small_corpus)
    for bad, says in (
        ("theme = 3\n", "theme must be"),
        ("colour = 'x'\n", "unknown setting 'colour'"),
        ("[keymap\n", "not valid TOML"),
    ):
        config.write_text(bad)
        res = chartui("train", "--max-steps", "1", "--run", str(tmp_path / "never"), env=env)
        assert res.returncode == 2 and says in res.stderr and len(res.stderr.strip().splitlines()) == 1
        assert not (tmp_path / "never").exists()


def test_a_saved_setting_keeps_backslashes_and_the_rest_of_the_file(tmp_path, monkeypatch):
    from chartui.settings import load_settings, save_setting

    config = tmp_path / "config.toml"
    monkeypatch.setenv("CHARTUI_CONFIG", str(config))
    config.write_text('preset = "old"\n[keymap]\n"train.stop" = "f9"\n')
    save_setting("preset", r"C:\presets\mine.toml")  # a Windows path: \p and \m are no escapes
    save_setting("corpus", r"D:\texts\1")
    loaded = load_settings()
    assert loaded.preset == r"C:\presets\mine.toml" and loaded.corpus == r"D:\texts\1"
    assert '"train.stop" = "f9"' in config.read_text()


class _Terminal:
    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize("saved_at_once", [True, False])
def test_leaving_the_app_says_why_it_waits_for_the_trainer(monkeypatch, capsys, saved_at_once):
    """Once the screen is gone, a trainer still finishing a step or a score keeps chartui for
    seconds (a minute on a busy machine): a line says why, instead of a blank terminal."""
    import argparse

    from chartui import memory
    from chartui.console import ui_cmd
    from chartui.ui import app as app_module

    waits: list[float] = []

    class LeavingApp:
        return_code = 0

        def __init__(self, **kwargs) -> None:
            pass

        def run(self) -> None:
            pass

        def shutdown(self, timeout: float = 15.0) -> bool:
            waits.append(timeout)
            return saved_at_once or len(waits) > 1

    monkeypatch.setattr(app_module, "ChartuiApp", LeavingApp)
    monkeypatch.setattr(memory, "limit_arenas", lambda: None)  # not for the test process
    monkeypatch.setattr(sys, "stdin", _Terminal())
    monkeypatch.setattr(sys, "stdout", _Terminal())
    assert ui_cmd.run(argparse.Namespace(run=None, preset=None, corpus=None)) == 0
    said = capsys.readouterr().err
    if saved_at_once:
        assert waits == [0.5] and said == ""
    else:
        assert waits == [0.5, 15.0] and said == "chartui: saving a resumable checkpoint before leaving...\n"
