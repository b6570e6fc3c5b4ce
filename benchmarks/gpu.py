"""The `gpu` preset on CUDA: time to reach val <= 1.47 (nanoGPT's A100 figure) and the best val
within the budget on tiny-shakespeare, evaluating every 10 seconds; and the scaling from 1 GPU
to N through torchrun (DistributedDataParallel, NCCL), each process with the preset's batch
(the global batch grows with N, as DDP is usually run).

    python benchmarks/gpu.py --corpus /path/to/tinyshakespeare.txt --gpus 1,2,4,8
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


def run_job(gpus: int, args: argparse.Namespace, home: Path) -> dict:
    run = home / f"gpu-{gpus}"
    base = ["train", "--corpus", corpus_path(args.corpus), "--preset", args.preset, "--max-seconds", str(args.seconds),
            "--eval-seconds", "10", "--sample-seconds", "0", "--run-dir", str(run), "--json"]  # fmt: skip
    if gpus == 1:
        cmd = [sys.executable, "-m", "chartui", *base, "--device", "cuda"]
    else:
        batch = ["--batch-size", str(args.batch * gpus)] if args.batch else []
        cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={gpus}",
               "-m", "chartui", *base, *batch]  # fmt: skip
    proc = subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env={**os.environ, "CHARTUI_HOME": str(home)}
    )
    evals, reached, finished, started = [], None, None, {}
    assert proc.stdout is not None
    for line in proc.stdout:
        if not line.startswith("{"):
            continue
        event = json.loads(line)
        if event["event"] == "started":
            started = event
        elif event["event"] == "eval":
            evals.append([round(event["elapsed"], 1), round(event["val_loss"], 4)])
            log(f"{gpus} GPU(s) {event['elapsed']:6.1f}s  step {event['step']}  val {event['val_loss']:.4f}")
            if reached is None and event["val_loss"] <= args.target:
                reached = round(event["elapsed"], 1)
        elif event["event"] == "finished":
            finished = event
    err = proc.stderr.read() if proc.stderr else ""
    if proc.wait() != 0 or finished is None:
        return {"gpus": gpus, "error": (err.strip().splitlines() or ["no output"])[-1]}
    return {
        "gpus": gpus,
        "device": started.get("device"),
        "processes": started.get("processes", 1),
        "seconds_to_target": reached,
        "best_val_loss": finished["best_val_loss"],
        "chars_per_s": round(finished["chars_per_s"]),
        "steps": finished["steps"],
        "evals": evals,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--corpus")
    ap.add_argument("--preset", default="gpu")
    ap.add_argument("--seconds", type=float, default=300.0)
    ap.add_argument("--target", type=float, default=1.47)
    ap.add_argument("--gpus", default="1", help="comma-separated GPU counts, e.g. 1,2,4 (needs that many GPUs)")
    ap.add_argument("--batch", type=int, help="per-GPU batch (default: the preset's); DDP jobs get N times it")
    args = ap.parse_args()
    import torch

    if not torch.cuda.is_available():
        raise SystemExit("no CUDA GPU here: this benchmark needs one")
    counts = [int(n) for n in args.gpus.split(",")]
    if max(counts) > torch.cuda.device_count():
        raise SystemExit(f"--gpus asks for {max(counts)} GPUs and this machine has {torch.cuda.device_count()}")
    if args.batch is None:
        from chartui.config import build_configs, load_preset

        args.batch = build_configs(load_preset(args.preset))[1].batch_size
    home = Path(tempfile.mkdtemp(prefix="chartui-bench-"))
    results = [run_job(n, args, home) for n in counts]
    one = next((r for r in results if r["gpus"] == 1 and "chars_per_s" in r), None)
    for r in results:
        if one and "chars_per_s" in r:
            r["scaling"] = round(r["chars_per_s"] / one["chars_per_s"], 2)
    emit({"benchmark": "gpu", "machine": machine(), "preset": args.preset, "target": args.target, "results": results})


if __name__ == "__main__":
    main()
