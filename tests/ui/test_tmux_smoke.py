"""The real ``chartui`` executable in tmux: train, watch the numbers move, generate while
pressing the temperature keys, open the gates, quit, and leave no process behind."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from chartui.engine import checkpoint as ck

pytestmark = pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")

PRESET = """\
description = "smoke test: a tiny LSTM"
[model]
arch = "lstm"
layers = 1
embed = 8
hidden = 32
[train]
batching = "stateful"
seq_len = 32
batch_size = 16
lr = 0.01
max_seconds = 120.0
eval_seconds = 2.0
sample_seconds = 2.0
checkpoint_seconds = 5.0
"""


class Tmux:
    def __init__(self, name: str) -> None:
        self.name = name

    def run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        return subprocess.run(["tmux", *args], capture_output=True, text=True, check=check, timeout=20)

    def screen(self) -> str:
        return self.run("capture-pane", "-p", "-t", self.name).stdout

    def keys(self, *keys: str) -> None:
        self.run("send-keys", "-t", self.name, *keys)

    def alive(self) -> bool:
        return self.run("has-session", "-t", self.name, check=False).returncode == 0

    def wait_for(self, pattern: str, timeout: float = 30.0) -> re.Match:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = re.search(pattern, self.screen())
            if found:
                return found
            time.sleep(0.2)
        raise AssertionError(f"{pattern!r} never appeared; the screen was:\n{self.screen()}")


def _steps(screen: str) -> tuple[int, float]:
    m = re.search(r"step ([\d,]+)\s+loss ([\d.]+)", screen)
    assert m, screen
    return int(m.group(1).replace(",", "")), float(m.group(2))


def test_the_real_app_in_tmux(small_corpus, tmp_path):
    exe = shutil.which("chartui", path=str(Path(sys.executable).parent))
    assert exe
    preset = tmp_path / "tiny.toml"
    preset.write_text(PRESET)
    home = tmp_path / "home"
    tmux = Tmux(f"chartui-smoke-{os.getpid()}")
    command = f"{exe} ui --corpus {small_corpus} --preset {preset}"
    tmux.run("new-session", "-d", "-s", tmux.name, "-x", "120", "-y", "40",
             "-e", f"CHARTUI_HOME={home}", "-e", "TERM=screen-256color", command)
    try:
        size = tmux.run("display", "-p", "-t", tmux.name, "#{window_width}x#{window_height}").stdout.strip()
        assert size == "120x40", size
        tmux.wait_for(r"Press s to train")
        tmux.keys("s")
        tmux.wait_for(r"step [\d,]+\s+loss")
        first = _steps(tmux.screen())
        time.sleep(2.0)
        later = _steps(tmux.screen())
        assert later[0] > first[0] and later[1] != first[1]

        tmux.keys("2")  # Generate, from the model training right now
        tmux.wait_for(r"the model training now")
        tmux.keys("r")
        tmux.wait_for(r"streaming")
        tmux.keys("+", "+")
        tmux.wait_for(r"T 1\.00")
        time.sleep(1.0)
        body = tmux.screen().split("streaming", 1)[1]
        assert len(re.findall(r"[a-z]", body)) > 20, body  # text streamed

        tmux.keys("3")  # Gates
        tmux.wait_for(r"layer 0/0\s+gate cell\s+unit \d+")
        tmux.wait_for(r"next character")

        tmux.keys("C-q")
        tmux.wait_for(r"A run is training")
        tmux.keys("y")
        deadline = time.monotonic() + 10
        while tmux.alive() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not tmux.alive(), "the app did not exit within 10 s of quitting"
    finally:
        if tmux.alive():
            tmux.run("kill-session", "-t", tmux.name, check=False)
    left = subprocess.run(["pgrep", "-f", str(preset)], capture_output=True, text=True)
    assert left.stdout.strip() == "", "a chartui process was left running"
    runs = list((home / "checkpoints").iterdir())
    assert len(runs) == 1
    assert ck.read_header(runs[0] / ck.LAST).meta["status"] == "stopped"
