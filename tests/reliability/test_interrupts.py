"""SIGTERM and SIGINT, headless and in the app: a resumable checkpoint, out within 5 s,
nothing left running."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from chartui.engine import checkpoint as ck
from tests.conftest import chartui
from tests.test_cli import TINY_FLAGS
from tests.ui.test_tmux_smoke import PRESET, Tmux


def _exe() -> str:
    return shutil.which("chartui", path=str(Path(sys.executable).parent)) or "chartui"


@pytest.mark.parametrize("sig, code", [(signal.SIGTERM, 143), (signal.SIGINT, 130), (signal.SIGHUP, 130)])
def test_headless_training_saves_and_exits_on_signals(small_corpus, tmp_path, sig, code):
    run = tmp_path / "run"
    proc = subprocess.Popen([_exe(), "train", "--corpus", str(small_corpus), *TINY_FLAGS, "--max-seconds", "120",
                             "--run", str(run), "--json"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    for line in proc.stdout:
        if '"event": "step"' in line and json.loads(line)["step"] >= 10:
            break
    sent = time.monotonic()
    proc.send_signal(sig)
    proc.communicate(timeout=10)
    assert time.monotonic() - sent < 5
    assert proc.returncode == code
    assert ck.read_header(run / ck.LAST).meta["status"] == "stopped"
    assert not ck.RunLock(run).held_elsewhere()


def _app_training_in_tmux(small_corpus, tmp_path, label: str) -> tuple[Tmux, int, Path, Path]:
    """The real app in a tmux pane, training a tiny preset: (tmux, the app's pid, home, preset)."""
    preset = tmp_path / "tiny.toml"
    preset.write_text(PRESET)
    home = tmp_path / "home"
    tmux = Tmux(f"chartui-{label}-{os.getpid()}")
    tmux.run("new-session", "-d", "-s", tmux.name, "-x", "100", "-y", "30", "-e", f"CHARTUI_HOME={home}",
             f"{_exe()} ui --corpus {small_corpus} --preset {preset}")
    try:
        tmux.wait_for("Press s to train")
        tmux.keys("s")
        tmux.wait_for(r"step [\d,]+\s+loss")
        pid = int(tmux.run("display", "-p", "-t", tmux.name, "#{pane_pid}").stdout.strip())
    except BaseException:
        tmux.run("kill-session", "-t", tmux.name, check=False)
        raise
    return tmux, pid, home, preset


@pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")
def test_the_app_saves_and_exits_on_sigterm(small_corpus, tmp_path):
    tmux, pid, home, preset = _app_training_in_tmux(small_corpus, tmp_path, "term")
    try:
        sent = time.monotonic()
        os.kill(pid, signal.SIGTERM)
        while tmux.alive() and time.monotonic() - sent < 10:
            time.sleep(0.05)
        assert not tmux.alive() and time.monotonic() - sent < 5
    finally:
        if tmux.alive():
            tmux.run("kill-session", "-t", tmux.name, check=False)
    (run,) = list((home / "checkpoints").iterdir())
    assert ck.read_header(run / ck.LAST).meta["status"] == "stopped"
    assert subprocess.run(["pgrep", "-f", str(preset)], capture_output=True).stdout == b""


@pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")
def test_the_app_saves_and_exits_when_its_terminal_goes_away(small_corpus, tmp_path):
    """A dropped ssh session or a killed tmux pane: SIGHUP with no terminal left to draw on."""
    tmux, pid, home, _ = _app_training_in_tmux(small_corpus, tmp_path, "hup")
    tmux.run("kill-session", "-t", tmux.name, check=False)
    gone = time.monotonic()
    while Path(f"/proc/{pid}").exists() and time.monotonic() - gone < 20:
        time.sleep(0.1)
    assert not Path(f"/proc/{pid}").exists(), "the app outlived its terminal"
    (run,) = list((home / "checkpoints").iterdir())
    assert ck.read_header(run / ck.LAST).meta["status"] == "stopped"
    assert not ck.RunLock(run).held_elsewhere()


def test_two_trainers_on_one_run_the_second_refuses(small_corpus, tmp_path):
    run = tmp_path / "run"
    first = subprocess.Popen([_exe(), "train", "--corpus", str(small_corpus), *TINY_FLAGS, "--max-seconds", "120",
                              "--run", str(run), "--json"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        for line in first.stdout:
            if '"event": "step"' in line:
                break
        second = chartui("train", "--resume", str(run), "--max-steps", "5")
        assert second.returncode == 2
        assert re.search(r"being trained by another chartui process \(pid \d+\)", second.stderr)
        # readers work while it trains
        sample = chartui("sample", str(run), "--length", "20", "--checkpoint", "last")
        assert sample.returncode == 0 and len(sample.stdout) >= 20
        assert json.loads(chartui("eval", str(run), "--checkpoint", "last", "--json").stdout)["loss"] > 0
        summary = ck.run_summary(run)
        assert summary["status"] == "training"
    finally:
        first.send_signal(signal.SIGINT)
        first.communicate(timeout=10)
    assert ck.run_summary(run)["status"] == "stopped"


def test_the_app_refuses_a_dumb_terminal_and_pipes():
    res = chartui("ui", env={"TERM": "dumb"})
    assert res.returncode == 2 and "chartui: error:" in res.stderr and len(res.stderr.strip().splitlines()) == 1
    assert "headless commands" in res.stderr
