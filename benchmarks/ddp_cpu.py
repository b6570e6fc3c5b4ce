"""DDP on this CPU: two single-thread processes under torchrun (gloo) against one process with
two threads, on the `cpu` preset, for the same time budget and global batch. Figures: chars/s
and the best validation loss of each, and their ratio. Runs one after the other, never at once.

    python benchmarks/ddp_cpu.py --seconds 300
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from common import corpus_path, emit, log, machine


def train(cmd: list[str], env: dict) -> dict:
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    events = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
    finished = next((e for e in events if e["event"] == "finished"), None)
    if proc.returncode != 0 or finished is None:
        raise SystemExit(f"{' '.join(cmd[:6])}... failed: {proc.stderr.strip().splitlines()[-1:]}")
    started = next(e for e in events if e["event"] == "started")
    return {
        "chars_per_s": round(finished["chars_per_s"]),
        "best_val_loss": finished["best_val_loss"],
        "steps": finished["steps"],
        "precision": started["precision"],
        "device": started["device"],
        "processes": started.get("processes", 1),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--corpus")
    ap.add_argument("--preset", default="cpu")
    ap.add_argument("--seconds", type=float, default=300.0)
    ap.add_argument("--precision", default="auto")
    args = ap.parse_args()
    home = Path(tempfile.mkdtemp(prefix="chartui-ddp-"))
    env = {**os.environ, "CHARTUI_HOME": str(home)}
    common = ["train", "--corpus", corpus_path(args.corpus), "--preset", args.preset, "--max-seconds", str(args.seconds),
              "--sample-seconds", "0", "--precision", args.precision, "--json"]  # fmt: skip
    log("one process, two threads")
    one = train([sys.executable, "-m", "chartui", *common, "--threads", "2", "--run-dir", str(home / "one")], env)
    log("two processes, one thread each (torchrun, gloo)")
    two = train(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", "-m", "chartui", *common,
         "--threads", "1", "--run-dir", str(home / "two")],
        {**env, "OMP_NUM_THREADS": "1"},
    )  # fmt: skip
    emit(
        {
            "benchmark": "ddp_cpu",
            "machine": machine(),
            "preset": args.preset,
            "seconds": args.seconds,
            "one_process_two_threads": one,
            "two_processes_one_thread": two,
            "chars_per_s_ratio": round(two["chars_per_s"] / one["chars_per_s"], 3),
        }
    )


if __name__ == "__main__":
    main()
