"""A handful of SVG snapshots at a fixed size and theme (pytest-textual-snapshot).

Update them deliberately after a visual change with ``pytest tests/ui/test_snapshots.py
--snapshot-update`` and look at the report. Textual is pinned below 9 because snapshots change
with its releases.
"""

from __future__ import annotations

import time

import pytest
import torch

from chartui.config import ModelConfig, TrainConfig, to_dict
from chartui.engine import checkpoint as ck
from chartui.engine.corpus import Vocab
from chartui.engine.models import CharModel
from chartui.ui.app import ChartuiApp
from chartui.ui.tabs.gates import GatesTab


@pytest.fixture
def fixed_run(home):
    """An untrained model with fixed weights (seeded init) saved as a run: deterministic pixels."""
    torch.manual_seed(0)
    vocab = Vocab("".join(sorted(set("First Citizen:\nBefore we proceed any further, hear me speak.\n\nAll:\nSpeak, speak.\nROMEO"))))
    config = ModelConfig(arch="lstm", layers=1, embed=8, hidden=24)
    model = CharModel(config, vocab.size)
    run = home / "checkpoints" / "snapshot-run"
    run.mkdir(parents=True)
    meta = {"kind": "best", "status": "finished", "model": to_dict(config), "train": to_dict(TrainConfig(max_steps=1)),
            "vocab": vocab.chars, "step": 0, "params": model.param_breakdown()}
    ck.save_checkpoint(run / ck.BEST, {f"model.{k}": v for k, v in model.state_dict().items()}, meta)
    return run


def test_train_tab_at_80x24(snap_compare):
    assert snap_compare(ChartuiApp(), terminal_size=(80, 24))


def test_help_screen(snap_compare):
    assert snap_compare(ChartuiApp(), press=["question_mark"], terminal_size=(80, 24))


def test_terminal_too_small(snap_compare):
    assert snap_compare(ChartuiApp(), terminal_size=(60, 18))


def test_gates_tab(snap_compare, fixed_run):
    async def traced(pilot):
        await pilot.press("3")
        tab = pilot.app.query_one(GatesTab)
        deadline = time.monotonic() + 30
        while tab.trace is None and time.monotonic() < deadline:
            await pilot.pause(0.05)
        await pilot.press("right", "right", "right")
        await pilot.pause(0.2)

    assert snap_compare(ChartuiApp(run=str(fixed_run)), terminal_size=(100, 30), run_before=traced)
