"""Validation loss against wall-clock, side by side, on one machine: the chapter's recipe
(re-implemented), nanoGPT's CPU recipe (run by nanoGPT's own train.py), chartui's `seed` and
`cpu` presets; on tiny-shakespeare with the same 90/10 split; at 60 / 120 / 300 s.

Two protocols, because they give different numbers for the same model:
- stateful: chartui's `chartui eval` (every validation character once, with its history);
- windows: nanoGPT's `estimate_loss` (random windows, each from a zero state), at block 256
  (nanoGPT's GPU recipe, the 1.4697 figure) and at block 64 (its CPU recipe).
nanoGPT is scored by its own estimate_loss as it trains (block 64, its recipe's 20 batches of 12)
and, at the end, by the windows protocol on its best checkpoint with 2000 windows.

Each chartui preset gets a run per budget (its schedule ends with its budget); the chapter's
recipe and nanoGPT get one run each, scored at the marks. Run it with nothing else on the
machine (about 25 minutes):

    python benchmarks/side_by_side.py --nanogpt ~/src/nanoGPT
    python benchmarks/side_by_side.py --budgets 300 --presets cpu --no-chapter   # one cell

--nanogpt is the path of a nanoGPT checkout (never copied into chartui); without it that row
is left out.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import corpus_path, emit, log, machine

NANOGPT_CPU = [  # nanoGPT's README, "I only have a macbook": its CPU recipe, verbatim
    "config/train_shakespeare_char.py",
    "--device=cpu",
    "--compile=False",
    "--eval_iters=20",
    "--log_interval=1",
    "--block_size=64",
    "--batch_size=12",
    "--n_layer=4",
    "--n_head=4",
    "--n_embd=128",
    "--max_iters=2000",
    "--lr_decay_iters=2000",
    "--dropout=0.0",
]


def split(corpus: str):
    from chartui.engine.corpus import load_corpus
    from chartui.engine.runs import split_ids

    c = load_corpus(corpus)
    train_ids, val_ids = split_ids(c, c.vocab, 0.1)
    return c, train_ids, val_ids


def scores(model, val_ids) -> dict:
    """Both protocols on one model (fp32)."""
    from chartui.engine.evaluate import evaluate_ids, evaluate_windows

    return {
        "stateful": round(evaluate_ids(model, val_ids).loss, 4),
        "windows_256": round(evaluate_windows(model, val_ids, block=256).loss, 4),
        "windows_64": round(evaluate_windows(model, val_ids, block=64).loss, 4),
    }


def chartui_run(preset: str, corpus: str, seconds: float, root: Path, val_ids) -> dict:
    from chartui.config import load_preset
    from chartui.engine.events import Finished
    from chartui.engine.precision import configs_for_machine
    from chartui.engine.runs import Run
    from chartui.engine.train import Trainer

    model, train = configs_for_machine(load_preset(preset), {"corpus": corpus, "max_seconds": seconds})
    trainer = Trainer.new(model, train, run=root / f"{preset}-{int(seconds)}s-{time.time_ns()}", preset=preset)
    finished = next(e for e in trainer if isinstance(e, Finished))
    best = Run(trainer.run_dir).load("best").model
    return {
        "final": {"stateful": round(finished.val_loss, 4)},
        "best": scores(best, val_ids),
        "steps": finished.steps,
        "chars_per_s": round(finished.chars_per_s),
        "precision": trainer.precision.name,
        "model": model.label,
    }


def chapter_run(train_ids, vocab_size: int, val_ids, budgets: list[float]) -> dict:
    import chapter_recipe as chapter
    import torch

    marks: dict[int, dict] = {}

    def at_mark(t: float, model) -> None:
        marks[int(t)] = scores(model, val_ids)
        log(f"chapter recipe at {t:.0f}s: {marks[int(t)]}")

    result = chapter.train(
        torch.from_numpy(train_ids.astype("int64")), vocab_size, seconds=max(budgets), marks=tuple(budgets), at_mark=at_mark
    )
    return {"at": marks, "chars_per_s": round(result["chars_per_s"]), "steps": result["steps"]}


def nanogpt_run(checkout: Path, corpus, train_ids, val_ids, budgets: list[float]) -> dict:
    """nanoGPT's CPU recipe through its own train.py, on chartui's exact split."""
    import numpy as np

    work = Path(tempfile.mkdtemp(prefix="nanogpt-"))
    for name in ("train.py", "model.py", "configurator.py"):
        shutil.copy(checkout / name, work / name)
    shutil.copytree(checkout / "config", work / "config")
    data = work / "data" / "chartui_split"
    data.mkdir(parents=True)
    np.asarray(train_ids, dtype=np.uint16).tofile(data / "train.bin")
    np.asarray(val_ids, dtype=np.uint16).tofile(data / "val.bin")
    chars = corpus.vocab.chars
    with open(data / "meta.pkl", "wb") as fh:  # what nanoGPT's prepare.py writes (nanoGPT reads it with pickle)
        import pickle

        pickle.dump({"vocab_size": len(chars), "itos": dict(enumerate(chars)), "stoi": {c: i for i, c in enumerate(chars)}}, fh)
    cmd = [sys.executable, "train.py", *NANOGPT_CPU, "--dataset=chartui_split", "--eval_interval=50", f"--out_dir={work / 'out'}"]
    proc = subprocess.Popen(cmd, cwd=work, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    evals, start = [], None
    for line in proc.stdout:
        if start is None and re.match(r"iter 0:", line):
            start = time.monotonic()
        m = re.match(r"step (\d+): train loss ([\d.]+), val loss ([\d.]+)", line)
        if m:
            evals.append([round(time.monotonic() - (start or time.monotonic()), 1), int(m.group(1)), float(m.group(3))])
    proc.wait()
    at = {}
    for mark in budgets:
        before = [e for e in evals if e[0] <= mark]
        if before:
            at[int(mark)] = {"windows_64_own_estimate": before[-1][2], "step": before[-1][1], "at_s": before[-1][0]}
    ended = evals[-1][0] if evals else None
    final = _nanogpt_windows(work, val_ids)
    shutil.rmtree(work, ignore_errors=True)
    return {"at": at, "ended_at_s": ended, "final_best_checkpoint": final, "evals": evals}


def _nanogpt_windows(work: Path, val_ids) -> dict:
    """nanoGPT's best checkpoint scored with 2000 random windows of 64 (its block size)."""
    import torch

    sys.path.insert(0, str(work))
    from model import GPT, GPTConfig  # nanoGPT's own model.py

    ckpt = torch.load(work / "out" / "ckpt.pt", map_location="cpu", weights_only=False)  # nanoGPT's file, its format
    with contextlib.redirect_stdout(sys.stderr):  # nanoGPT prints its parameter count; stdout is our JSON
        model = GPT(GPTConfig(**ckpt["model_args"]))
    model.load_state_dict({k.removeprefix("_orig_mod."): v for k, v in ckpt["model"].items()})
    model.eval()
    data = torch.as_tensor(val_ids.astype("int64"))
    g = torch.Generator().manual_seed(0)
    starts = torch.randint(0, data.numel() - 64, (2000,), generator=g)
    total = 0.0
    with torch.no_grad():
        for i in range(0, 2000, 100):
            ix = starts[i : i + 100, None] + torch.arange(64)
            _, loss = model(data[ix], data[ix + 1])
            total += float(loss) * len(ix)
    return {"windows_64": round(total / 2000, 4), "iter": ckpt.get("iter_num")}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--corpus", help="path to tiny-shakespeare (default: ../shared/data/tinyshakespeare.txt)")
    ap.add_argument("--budgets", default="60,120,300", help="seconds, comma-separated")
    ap.add_argument("--presets", default="seed,cpu", help="chartui presets, comma-separated")
    ap.add_argument("--nanogpt", help="path of a nanoGPT checkout (its train.py runs the nanoGPT row)")
    ap.add_argument("--no-chapter", action="store_true", help="skip the chapter's recipe")
    args = ap.parse_args()
    budgets = [float(b) for b in args.budgets.split(",")]
    corpus, train_ids, val_ids = split(corpus_path(args.corpus))
    os.environ.setdefault("CHARTUI_HOME", tempfile.mkdtemp(prefix="chartui-bench-"))
    root = Path(os.environ["CHARTUI_HOME"]) / "checkpoints"
    table: dict[str, dict] = {}
    if not args.no_chapter:
        log("chapter recipe ...")
        table["chapter recipe"] = chapter_run(train_ids, corpus.vocab.size, val_ids, budgets)
    if args.nanogpt:
        log("nanoGPT CPU recipe ...")
        table["nanoGPT CPU recipe"] = nanogpt_run(Path(args.nanogpt), corpus, train_ids, val_ids, budgets)
        log(json.dumps(table["nanoGPT CPU recipe"]["at"]))
    for preset in [p for p in args.presets.split(",") if p]:
        table[preset] = {"at": {}}
        for seconds in budgets:
            log(f"{preset} for {seconds:.0f}s ...")
            table[preset]["at"][int(seconds)] = r = chartui_run(preset, str(corpus.source), seconds, root, val_ids)
            log(f"{preset} {seconds:.0f}s: {r}")
    emit({"benchmark": "side_by_side", "corpus": str(corpus.source), "budgets": budgets, "machine": machine(), "results": table})


if __name__ == "__main__":
    main()
