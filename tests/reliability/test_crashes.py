"""kill -9 at random moments, including mid-checkpoint, 20 times: nothing saved is lost."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from chartui.engine import runs
from chartui.engine.metrics import read_metrics
from chartui.engine.runs import open_model
from chartui.engine.sample import generate
from chartui.engine.train import Trainer
from tests.conftest import PATIENCE

DRIVER = Path(__file__).with_name("kill_driver.py")


def test_twenty_kills_never_lose_the_run(small_corpus, tmp_path):
    run = tmp_path / "run"
    res = subprocess.run(
        [sys.executable, str(DRIVER), str(small_corpus), str(run), "20", "7"],
        capture_output=True,
        text=True,
        timeout=3 * PATIENCE,
    )
    assert res.returncode == 0, res.stderr[-3000:]
    report = json.loads(res.stdout.strip().splitlines()[-1])
    assert len(report) == 20
    steps = [r["step"] for r in report]
    assert steps == sorted(steps) and steps[-1] > 0  # each round resumed from the last complete checkpoint
    assert all(r["records"] > 0 for r in report)
    # at least one kill landed mid-write and left a temporary, which was never read as a checkpoint
    assert any(r["tmp_left"] for r in report if r["mode"] == "during-write")

    # after all that, the run resumes and samples like any other
    trainer = Trainer.resume(run, {"max_steps": steps[-1] + 5})
    events = list(trainer)
    assert events[0].step == steps[-1] and events[-1].reason == "budget"
    assert not list(run.glob(".*.tmp"))  # stale temporaries are swept on start
    loaded = open_model(run, "last")
    assert len(generate(loaded.model, loaded.vocab, length=20)[0]) == 20
    records = read_metrics(run / runs.METRICS)
    assert records[-1]["event"] == "finished"
