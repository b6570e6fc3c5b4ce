"""The real ``chartui`` executable in tmux: train, watch the numbers move, generate while
pressing the temperature keys, open the gates, quit, and leave no process behind."""

from __future__ import annotations

import re

from chartui.engine import runs
from chartui.engine.checkpoint import read_meta
from tests.conftest import no_process_left


def _steps(screen: str) -> tuple[int, float]:
    m = re.search(r"step\s([\d,]+)\s+loss\s([\d.]+)", screen)
    assert m, screen
    return int(m.group(1).replace(",", "")), float(m.group(2))


def test_the_real_app_in_tmux(app_in_tmux):
    tmux, home = app_in_tmux(size=(120, 40), train=True)
    assert tmux.run("display", "-p", "-t", tmux.name, "#{window_width}x#{window_height}").stdout.strip() == "120x40"
    first = _steps(tmux.screen())
    tmux.wait_for(rf"step\s(?!{first[0]:,}\s)[\d,]+\s+loss")  # the numbers move
    assert _steps(tmux.screen())[0] > first[0]

    tmux.keys("2")  # Generate, from the model training right now
    tmux.wait_for(r"the model training now")
    tmux.keys("r")
    tmux.wait_for(r"streaming")
    tmux.keys("+", "+")
    tmux.wait_for(r"T 1\.00")
    tmux.wait_for(r"streaming.*\n(.*\n)*(.*[a-z].*){5}")  # text streamed below the status line

    tmux.keys("3")  # Gates
    tmux.wait_for(r"layer 0/0\s+gate cell\s+unit \d+")
    tmux.wait_for(r"next character")

    tmux.keys("C-q")
    tmux.wait_for(r"A run is training")
    tmux.keys("y")
    tmux.wait_until_gone()
    assert no_process_left(str(home))
    (run,) = list((home / "checkpoints").iterdir())
    assert read_meta(run / runs.LAST).state["status"] == "stopped"
