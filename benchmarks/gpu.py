"""The `gpu` preset on a CUDA machine: time to reach val <= 1.47 (nanoGPT's A100 figure) and
the best val within 5 minutes, on tiny-shakespeare, evaluating every 10 seconds.

    python benchmarks/gpu.py --corpus /path/to/tinyshakespeare.txt
"""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path

from common import corpus_path, emit, log, machine


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--corpus")
    ap.add_argument("--preset", default="gpu")
    ap.add_argument("--seconds", type=float, default=300.0)
    ap.add_argument("--target", type=float, default=1.47)
    args = ap.parse_args()
    import torch

    if not torch.cuda.is_available():
        raise SystemExit("no CUDA GPU here: this benchmark needs one")
    os.environ.setdefault("CHARTUI_HOME", tempfile.mkdtemp(prefix="chartui-bench-"))
    from chartui.config import build_configs, load_preset
    from chartui.engine.events import EvalDone, Finished
    from chartui.engine.train import Trainer

    model, train = build_configs(
        load_preset(args.preset),
        {"corpus": corpus_path(args.corpus), "max_seconds": args.seconds, "eval_seconds": 10.0, "device": "cuda"},
    )
    trainer = Trainer.new(model, train, run=Path(os.environ["CHARTUI_HOME"]) / "gpu-bench", preset=args.preset)
    evals, reached = [], None
    for event in trainer:
        if isinstance(event, EvalDone):
            evals.append([round(event.elapsed, 1), round(event.val_loss, 4)])
            log(f"{event.elapsed:6.1f}s  step {event.step}  val {event.val_loss:.4f}")
            if reached is None and event.val_loss <= args.target:
                reached = round(event.elapsed, 1)
        if isinstance(event, Finished):
            emit(
                {
                    "benchmark": "gpu",
                    "machine": machine(),
                    "preset": args.preset,
                    "params": trainer.params["total"],
                    "seconds_to_target": reached,
                    "target": args.target,
                    "best_val_loss": event.best_val_loss,
                    "chars_per_s": round(event.chars_per_s),
                    "steps": event.steps,
                    "evals": evals,
                }
            )


if __name__ == "__main__":
    main()
