"""DDP through torchrun on the CPU (gloo, one thread per process): two processes follow the
same loss trajectory as one with the same global batch; rank 0 alone writes the run; a rank
killed with SIGKILL stops the job and leaves the last checkpoint whole; a resume keeps the
world size."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from chartui.engine import runs
from chartui.engine.checkpoint import read_meta
from chartui.engine.metrics import read_metrics
from chartui.engine.runs import open_model
from tests.conftest import PATIENCE, TINY_FLAGS, exe

# Same global batch, seed and data; the two-process sum of gradients is reduced in another
# order than one process's, so the losses agree to float32 rounding, not bit for bit.
TOLERANCE = dict(rtol=2e-4, atol=2e-5)
FLAGS = [*TINY_FLAGS, "--dropout", "0", "--metrics-every", "1", "--threads", "1", "--json"]


def _torchrun(nproc: int, *args: str, **kw) -> subprocess.Popen:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={nproc}", "-m", "chartui", *args]
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, **kw)


def _losses(out: str) -> list[float]:
    return [e["loss"] for e in (json.loads(line) for line in out.splitlines() if line.startswith("{")) if e["event"] == "step"]


@pytest.mark.parametrize("batching", ["stateful", "windows"])
def test_two_processes_follow_one_processs_loss_trajectory(small_corpus, tmp_path, batching):
    common = ["train", "--corpus", str(small_corpus), *FLAGS, "--batching", batching, "--max-steps", "12"]
    one = subprocess.run(
        [exe(), *common, "--run", str(tmp_path / "one")],
        capture_output=True,
        text=True,
        timeout=PATIENCE,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )
    assert one.returncode == 0, one.stderr
    job = _torchrun(2, *common, "--run-dir", str(tmp_path / "two"))
    out, err = job.communicate(timeout=PATIENCE)
    assert job.returncode == 0, err[-6000:]
    a, b = _losses(one.stdout), _losses(out)  # rank 0 alone prints
    assert len(a) == len(b) == 12
    np.testing.assert_allclose(b, a, **TOLERANCE)
    started = json.loads(out.splitlines()[0])
    assert started["processes"] == 2
    records = read_metrics(tmp_path / "two" / runs.METRICS)
    assert [r["step"] for r in records if r["event"] == "step"] == list(range(1, 13))  # written once, not per rank
    assert read_meta(tmp_path / "two" / runs.LAST).state["world"] == 2
    # The other rank made no folder of its own, here or under checkpoints/.
    assert sorted(p.name for p in tmp_path.iterdir() if p.name != "home") == ["one", "two"]
    assert not list((tmp_path / "home").glob("checkpoints/*"))


def test_a_resume_keeps_the_world_size(small_corpus, tmp_path):
    run = tmp_path / "run"
    job = _torchrun(2, "train", "--corpus", str(small_corpus), *FLAGS, "--max-steps", "6", "--run-dir", str(run))
    _, err = job.communicate(timeout=PATIENCE)  # reads both pipes, so a chatty rank never blocks
    assert job.returncode == 0, err[-6000:]
    alone = subprocess.run(
        [exe(), "train", "--resume", str(run), "--max-steps", "9"], capture_output=True, text=True, timeout=PATIENCE
    )
    assert alone.returncode == 2 and "trained by 2 process(es) and this job has 1" in alone.stderr
    job = _torchrun(2, "train", "--resume", str(run), "--max-steps", "9", "--json")
    out, err = job.communicate(timeout=PATIENCE)
    assert job.returncode == 0, err[-6000:]
    first = json.loads(out.splitlines()[0])
    assert first["resumed"] and first["step"] == 6 and json.loads(out.splitlines()[-1])["steps"] == 9


def test_a_rank_killed_stops_the_job_and_the_last_checkpoint_is_whole(small_corpus, tmp_path):
    run = tmp_path / "run"
    job = _torchrun(
        2,
        "train",
        "--corpus",
        str(small_corpus),
        *FLAGS,
        "--max-seconds",
        "600",
        "--checkpoint-seconds",
        "0.2",
        "--run-dir",
        str(run),
        start_new_session=True,
    )
    for line in job.stdout:  # until a periodic checkpoint past step 0 is written
        if '"event": "checkpoint"' in line and json.loads(line)["step"] >= 1:
            break
    workers = subprocess.run(["pgrep", "-P", str(job.pid)], capture_output=True, text=True).stdout.split()
    assert len(workers) == 2, workers
    os.kill(int(workers[-1]), signal.SIGKILL)  # one rank dies as under the OOM killer
    try:
        job.wait(timeout=PATIENCE)
    finally:
        if job.poll() is None:
            os.killpg(job.pid, signal.SIGKILL)
    assert job.returncode != 0
    deadline = time.monotonic() + PATIENCE
    while any(Path(f"/proc/{w}").exists() for w in workers) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not any(Path(f"/proc/{w}").exists() for w in workers)  # nothing of the job is left running
    loaded = open_model(run, "last")  # whole, and loadable
    assert loaded.progress.step >= 1 and read_meta(run / runs.LAST).state["world"] == 2
