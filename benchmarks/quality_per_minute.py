"""Validation loss against wall-clock: chartui's `seed` and `cpu` presets and the chapter's
recipe (re-implemented), on tiny-shakespeare, at 60 / 120 / 300 / 600 seconds.

Every model is scored the same way: chartui's evaluator over the whole validation split (the
last 10%, nats per character, hidden state carried along the text). The chapter's recipe
trains on the same 90% and is scored at each mark off its clock; each chartui preset gets a
separate run per budget (its learning-rate schedule ends with its budget), and its budget
includes its own periodic evaluations. Run it with nothing else on the machine.

    python benchmarks/quality_per_minute.py                       # everything: about 45 minutes
    python benchmarks/quality_per_minute.py --budgets 300 --presets cpu --no-chapter
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

from common import corpus_path, emit, log, machine


def chartui_run(preset: str, corpus: str, seconds: float, root: Path) -> dict:
    from chartui.config import build_configs, load_preset
    from chartui.engine.events import EvalDone, Finished
    from chartui.engine.train import Trainer

    model, train = build_configs(load_preset(preset), {"corpus": corpus, "max_seconds": seconds})
    trainer = Trainer.new(model, train, run=root / f"{preset}-{int(seconds)}s-{time.time_ns()}", preset=preset)
    evals = []
    for event in trainer:
        if isinstance(event, EvalDone):
            evals.append([round(event.elapsed, 1), round(event.val_loss, 4)])
        if isinstance(event, Finished):
            return {
                "val_loss": event.val_loss,
                "best_val_loss": event.best_val_loss,
                "steps": event.steps,
                "chars_per_s": round(event.chars_per_s),
                "elapsed": round(event.elapsed, 1),
                "evals": evals,
            }
    raise RuntimeError("no Finished event")


def chapter_run(corpus: str, budgets: list[float]) -> dict:
    import chapter_recipe as chapter
    import torch

    from chartui.engine.corpus import load_corpus
    from chartui.engine.evaluate import evaluate_ids
    from chartui.engine.runs import split_ids

    c = load_corpus(corpus)
    train_ids, val_ids = split_ids(c, c.vocab, 0.1)
    marks = {}

    def at_mark(t: float, model) -> None:
        marks[int(t)] = evaluate_ids(model, val_ids).loss
        log(f"chapter recipe at {t:.0f}s: val {marks[int(t)]:.4f}")

    result = chapter.train(
        torch.from_numpy(train_ids.astype("int64")), c.vocab.size, seconds=max(budgets), marks=tuple(budgets), at_mark=at_mark
    )
    return {"val_loss_at": marks, "chars_per_s": round(result["chars_per_s"]), "steps": result["steps"]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--corpus", help="path to tiny-shakespeare (default: ../shared/data/tinyshakespeare.txt)")
    ap.add_argument("--budgets", default="60,120,300,600", help="seconds, comma-separated")
    ap.add_argument("--presets", default="seed,cpu", help="chartui presets, comma-separated")
    ap.add_argument("--no-chapter", action="store_true", help="skip the chapter's recipe")
    args = ap.parse_args()
    corpus = corpus_path(args.corpus)
    budgets = [float(b) for b in args.budgets.split(",")]
    os.environ.setdefault("CHARTUI_HOME", tempfile.mkdtemp(prefix="chartui-bench-"))
    root = Path(os.environ["CHARTUI_HOME"]) / "checkpoints"
    table: dict[str, dict] = {}
    if not args.no_chapter:
        log("chapter recipe ...")
        table["chapter recipe"] = chapter_run(corpus, budgets)
    for preset in [p for p in args.presets.split(",") if p]:
        table[preset] = {"val_loss_at": {}, "runs": {}}
        for seconds in budgets:
            log(f"{preset} for {seconds:.0f}s ...")
            r = chartui_run(preset, corpus, seconds, root)
            table[preset]["val_loss_at"][int(seconds)] = r["val_loss"]
            table[preset]["runs"][int(seconds)] = r
            log(f"{preset} {seconds:.0f}s: val {r['val_loss']:.4f} ({r['chars_per_s']} chars/s)")
    emit({"benchmark": "quality_per_minute", "corpus": corpus, "budgets": budgets, "machine": machine(), "results": table})


if __name__ == "__main__":
    main()
