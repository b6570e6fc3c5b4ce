"""A handful of SVG snapshots at a fixed size and theme (pytest-textual-snapshot).

Update them deliberately after a visual change with ``pytest tests/ui/test_snapshots.py
--snapshot-update`` and look at the report. Textual is pinned below 9 because snapshots change
with its releases.
"""

from __future__ import annotations

import pytest
import torch

from chartui.config import ModelConfig, TrainConfig
from chartui.engine import runs
from chartui.engine.checkpoint import save_checkpoint
from chartui.engine.corpus import Vocab
from chartui.engine.models import CharModel
from chartui.engine.runs import CorpusInfo, RunInfo
from chartui.ui.app import ChartuiApp
from chartui.ui.tabs.gates import GatesTab
from tests.conftest import until


@pytest.fixture
def fixed_run(home):
    """An untrained model with fixed weights (seeded init) saved as a run: deterministic pixels."""
    torch.manual_seed(0)
    vocab = Vocab(
        "".join(sorted(set("First Citizen:\nBefore we proceed any further, hear me speak.\n\nAll:\nSpeak, speak.\nROMEO")))
    )
    config = ModelConfig(arch="lstm", layers=1, embed=8, hidden=24)
    model = CharModel(config, vocab.size)
    run = home / "checkpoints" / "snapshot-run"
    run.mkdir(parents=True)
    info = RunInfo(
        model=config,
        train=TrainConfig(max_steps=1),
        vocab=vocab,
        corpus=CorpusInfo(name="fixed", source="fixed", chars=0, vocab_size=vocab.size, sha256=""),
    )
    save_checkpoint(
        run / runs.BEST,
        {f"model.{k}": v for k, v in model.state_dict().items()},
        run=info.to_dict(),
        state={"kind": "best", "status": "finished", "step": 0},
    )
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
        await until(pilot, lambda: tab.trace is not None)
        await pilot.press("right", "right", "right")
        await until(pilot, lambda: " at 3, unit" in str(pilot.app.query_one("#gates-detail").render()))

    assert snap_compare(ChartuiApp(run=str(fixed_run)), terminal_size=(100, 30), run_before=traced)
