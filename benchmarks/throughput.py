"""Training throughput on the chapter's exact model and hyper-parameters: chartui's trainer
(the `seed` preset, its precision chosen as for any user: measured, bf16 where faster) against
the chapter's recipe (fp32, as the chapter writes it), in one process, alternating rounds; and
the validation loss each reaches in that time, so a speed-up is never bought with quality.

Both count characters through the training steps over the time spent in them (evaluation,
sampling and saving excluded on both sides); both are scored by the same fp32 evaluator over
the whole validation split. Quote the medians; run it with nothing else on the machine.

    python benchmarks/throughput.py --rounds 3 --seconds 60
"""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path

from common import corpus_path, emit, log, machine, median


def chartui_round(corpus, seconds: float, root: Path, i: int) -> tuple[float, float, str]:
    from chartui.config import build_configs, load_preset
    from chartui.engine.events import Finished
    from chartui.engine.train import Trainer

    # The chapter's recipe has no evaluation, samples or checkpoints inside its loop: leave
    # ours to the end too (the throughput figure excludes them either way).
    model, train = build_configs(
        load_preset("seed"),
        {
            "corpus": corpus.name,
            "max_seconds": seconds,
            "eval_seconds": 0.0,
            "sample_epochs": [],
            "checkpoint_seconds": 1e9,
            "val_fraction": 0.1,
        },
    )
    trainer = Trainer.new(model, train, run=root / f"seed-{i}", corpus=corpus)
    for event in trainer:
        if isinstance(event, Finished):
            return event.chars_per_s, event.val_loss, trainer.precision.name
    raise RuntimeError("no Finished event")


def chapter_round(train_ids, val_ids, vocab_size: int, seconds: float) -> tuple[float, float]:
    import chapter_recipe as chapter
    import torch

    from chartui.engine.evaluate import evaluate_ids

    scored = {}
    result = chapter.train(
        torch.from_numpy(train_ids.astype("int64")),
        vocab_size,
        seconds=seconds,
        marks=(seconds,),
        at_mark=lambda t, model: scored.setdefault("val", evaluate_ids(model, val_ids).loss),
    )
    return result["chars_per_s"], scored["val"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--corpus")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--seconds", type=float, default=60.0)
    args = ap.parse_args()
    os.environ.setdefault("CHARTUI_HOME", tempfile.mkdtemp(prefix="chartui-bench-"))
    from chartui.engine.corpus import load_corpus
    from chartui.engine.runs import split_ids

    corpus = load_corpus(corpus_path(args.corpus))
    train_ids, val_ids = split_ids(corpus, corpus.vocab, 0.1)
    root = Path(os.environ["CHARTUI_HOME"]) / "checkpoints"
    ours, theirs = [], []
    for i in range(args.rounds):
        theirs.append(chapter_round(train_ids, val_ids, corpus.vocab.size, args.seconds))
        ours.append(chartui_round(corpus, args.seconds, root, i))
        log(
            f"round {i}: chapter {theirs[-1][0]:,.0f} chars/s val {theirs[-1][1]:.4f}; "
            f"chartui {ours[-1][0]:,.0f} chars/s val {ours[-1][1]:.4f} ({ours[-1][2]})"
        )
    emit(
        {
            "benchmark": "throughput",
            "model": "chapter LSTM (embed 32, hidden 128, seq 50, batch 64, Adam 3e-3)",
            "seconds": args.seconds,
            "machine": machine(),
            "chartui_precision": ours[-1][2],
            "chapter_chars_per_s": [round(x[0]) for x in theirs],
            "chartui_chars_per_s": [round(x[0]) for x in ours],
            "chapter_val": [round(x[1], 4) for x in theirs],
            "chartui_val": [round(x[1], 4) for x in ours],
            "chapter_median": round(median([x[0] for x in theirs])),
            "chartui_median": round(median([x[0] for x in ours])),
            "ratio": round(median([x[0] for x in ours]) / median([x[0] for x in theirs]), 3),
            "val_difference": round(median([x[1] for x in ours]) - median([x[1] for x in theirs]), 4),
        }
    )


if __name__ == "__main__":
    main()
