"""Kill a trainer with SIGKILL at random moments, and check the run folder after every kill.
Prints one JSON report. The rounds take turns: a kill at a random moment from the trainer's
start (often before it has taken a step), one while a checkpoint is being written, and one at a
random moment after the trainer has taken its first step of the round. The last kind is what
makes the run advance on any machine: on a loaded one, a resumed trainer can take longer to
start than the longest random delay, and twenty kills during start-up left a run at step 0.

Run by tests/reliability/test_crashes.py in its own process: the parent imports torch but
never runs a torch operation, so forking a fresh trainer per round is safe and quick.
Usage: python kill_driver.py CORPUS RUN_DIR KILLS SEED
"""

from __future__ import annotations

import json
import os
import random
import signal
import sys
import time
from pathlib import Path

import torch
from safetensors.numpy import load as load_numpy

from chartui.config import build_configs, load_preset
from chartui.engine import runs
from chartui.engine.checkpoint import read_meta
from chartui.engine.metrics import read_metrics

SETTINGS = {
    "hidden": 96,
    "embed": 16,
    "seq_len": 32,
    "batch_size": 16,
    "lr": 0.005,
    "batching": "stateful",
    "checkpoint_seconds": 0.05,
    "eval_interval": 25,
    "max_steps": 1_000_000,
    "metrics_every": 1,
}


def child(corpus: str, run: Path) -> None:
    from chartui.engine.train import Trainer

    torch.set_num_threads(1)
    if (run / runs.LAST).is_file():
        trainer = Trainer.resume(run)
    else:
        model, train = build_configs(load_preset("seed"), {**SETTINGS, "corpus": corpus})
        trainer = Trainer.new(model, train, run=run)
    for _ in trainer:
        pass


def check(run: Path) -> dict:
    """Everything a user relies on after a crash, without running torch in this process."""
    meta = read_meta(run / runs.LAST)
    tensors = load_numpy((run / runs.LAST).read_bytes())
    step = meta.state["step"]
    assert any(k.startswith("model.") for k in tensors), f"no weights in the checkpoint of step {step}"
    # AdamW has state once it has taken a step: the checkpoint a new run writes at step 0 has
    # none (a kill before the first step's checkpoint, which a loaded machine makes likely).
    assert step == 0 or any(k.startswith("optim.") for k in tensors), f"no optimiser state at step {step}"
    records = read_metrics(run / runs.METRICS)
    return {"step": step, "records": len(records), "tmp_left": len(list(run.glob(".*.tmp")))}


def steps_logged(run: Path) -> int:
    """Step records in the run's metrics.jsonl (the trainer writes one a step)."""
    return sum(1 for r in read_metrics(run / runs.METRICS) if r.get("event") == "step")


def main() -> None:
    corpus, run, kills, seed = sys.argv[1], Path(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
    rng = random.Random(seed)
    report = []
    for i in range(kills):
        logged = steps_logged(run)
        pid = os.fork()
        if pid == 0:
            try:
                child(corpus, run)
            finally:
                os._exit(0)
        mode = ("start-up", "during-write", "after-a-step")[i % 3]
        # Generous waits: they only run out when something is broken. With 20 s and 5 s, the
        # test failed once on a machine running three test suites beside a CPU hog; these waits
        # were the only parts of it that depended on the machine's speed.
        deadline = time.monotonic() + 120
        while not (run / runs.LAST).is_file() and time.monotonic() < deadline:
            time.sleep(0.01)  # round 0: let the first checkpoint land
        if mode == "after-a-step":
            while steps_logged(run) <= logged and time.monotonic() < deadline:
                time.sleep(0.01)
        if mode != "during-write":
            time.sleep(rng.uniform(0.05, 1.2))
        else:
            hit = time.monotonic() + 60
            while not list(run.glob(f".{runs.LAST}.*.tmp")) and time.monotonic() < hit:
                time.sleep(0.0005)
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        report.append({"round": i, "mode": mode, **check(run)})
    print(json.dumps(report))


if __name__ == "__main__":
    main()
