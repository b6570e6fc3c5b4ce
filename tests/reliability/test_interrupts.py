"""SIGTERM, SIGINT and SIGHUP, headless and in the app: a resumable checkpoint, a prompt
exit, nothing left running."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import time
from pathlib import Path

import pytest

from chartui.engine import runs
from chartui.engine.checkpoint import read_meta
from chartui.engine.runs import Run
from tests.conftest import PATIENCE, TINY_FLAGS, chartui, exe, no_process_left

# Stopping saves one tiny checkpoint: well under a second. The bound is generous so a loaded
# machine never fails it; a trainer that ignored the signal would still blow through it.
PROMPT_EXIT = 30.0


def _training(small_corpus, run: Path) -> subprocess.Popen:
    """A headless trainer, returned once it has taken ten steps."""
    proc = subprocess.Popen(
        [
            exe(),
            "train",
            "--corpus",
            str(small_corpus),
            *TINY_FLAGS,
            "--max-seconds",
            "600",
            "--threads",
            "1",
            "--run",
            str(run),
            "--json",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    for line in proc.stdout:
        if '"event": "step"' in line and json.loads(line)["step"] >= 10:
            return proc
    raise AssertionError(f"the trainer never stepped: {proc.stderr.read()}")


@pytest.mark.parametrize("sig, code", [(signal.SIGTERM, 143), (signal.SIGINT, 130), (signal.SIGHUP, 130)])
def test_headless_training_saves_and_exits_on_signals(small_corpus, tmp_path, sig, code):
    run = tmp_path / "run"
    proc = _training(small_corpus, run)
    sent = time.monotonic()
    proc.send_signal(sig)
    proc.communicate(timeout=PATIENCE)
    assert time.monotonic() - sent < PROMPT_EXIT
    assert proc.returncode == code
    assert read_meta(run / runs.LAST).state["status"] == "stopped"
    assert not Run(run).training_elsewhere()


def test_the_app_saves_and_exits_on_sigterm(app_in_tmux):
    tmux, home = app_in_tmux(size=(100, 30), train=True)
    pid = tmux.pid()
    sent = time.monotonic()
    os.kill(pid, signal.SIGTERM)
    tmux.wait_until_gone()
    assert time.monotonic() - sent < PROMPT_EXIT
    (run,) = list((home / "checkpoints").iterdir())
    assert read_meta(run / runs.LAST).state["status"] == "stopped"
    assert no_process_left(str(home))


def test_the_app_saves_and_exits_when_its_terminal_goes_away(app_in_tmux):
    """A dropped ssh session or a killed tmux pane: SIGHUP with no terminal left to draw on."""
    tmux, home = app_in_tmux(size=(100, 30), train=True)
    pid = tmux.pid()
    tmux.kill()
    deadline = time.monotonic() + PATIENCE
    while Path(f"/proc/{pid}").exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not Path(f"/proc/{pid}").exists(), "the app outlived its terminal"
    (run,) = list((home / "checkpoints").iterdir())
    assert read_meta(run / runs.LAST).state["status"] == "stopped"
    assert not Run(run).training_elsewhere()


def test_two_trainers_on_one_run_the_second_refuses_and_readers_still_work(small_corpus, tmp_path):
    run = tmp_path / "run"
    first = _training(small_corpus, run)
    try:
        second = chartui("train", "--resume", str(run), "--max-steps", "5")
        assert second.returncode == 2
        assert re.search(r"being trained by another chartui process \(pid \d+\)", second.stderr)
        sample = chartui("sample", str(run), "--length", "20", "--checkpoint", "last")
        assert sample.returncode == 0 and len(sample.stdout) >= 20
        assert json.loads(chartui("eval", str(run), "--checkpoint", "last", "--json").stdout)["loss"] > 0
        assert Run(run).summary().status == "training"
    finally:
        first.send_signal(signal.SIGINT)
        first.communicate(timeout=PATIENCE)
    assert Run(run).summary().status == "stopped"


def test_the_app_refuses_a_dumb_terminal_and_pipes():
    res = chartui("ui", env={"TERM": "dumb"})
    assert res.returncode == 2 and "chartui: error:" in res.stderr and len(res.stderr.strip().splitlines()) == 1
    assert "headless commands" in res.stderr
