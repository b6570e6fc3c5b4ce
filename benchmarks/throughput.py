"""Training throughput on the chapter's exact model and hyper-parameters: chartui's trainer
(the `seed` preset) against the chapter's recipe, in one process, alternating rounds.

Both count characters through the training steps over the time spent in them (evaluation,
sampling and saving excluded on both sides). Quote the medians; run it with nothing else on
the machine.

    python benchmarks/throughput.py --rounds 3 --seconds 20
"""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path

from common import corpus_path, emit, log, machine, median


def chartui_round(corpus, seconds: float, root: Path, i: int) -> float:
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
            return event.chars_per_s
    raise RuntimeError("no Finished event")


def chapter_round(train_ids, vocab_size: int, seconds: float) -> float:
    import chapter_recipe as chapter
    import torch

    return chapter.train(torch.from_numpy(train_ids.astype("int64")), vocab_size, seconds=seconds)["chars_per_s"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--corpus")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--seconds", type=float, default=20.0)
    args = ap.parse_args()
    os.environ.setdefault("CHARTUI_HOME", tempfile.mkdtemp(prefix="chartui-bench-"))
    from chartui.engine.corpus import load_corpus
    from chartui.engine.runs import split_ids

    corpus = load_corpus(corpus_path(args.corpus))
    train_ids, _ = split_ids(corpus, corpus.vocab, 0.1)
    root = Path(os.environ["CHARTUI_HOME"]) / "checkpoints"
    ours, theirs = [], []
    for i in range(args.rounds):
        theirs.append(chapter_round(train_ids, corpus.vocab.size, args.seconds))
        ours.append(chartui_round(corpus, args.seconds, root, i))
        log(f"round {i}: chapter {theirs[-1]:,.0f} chars/s, chartui {ours[-1]:,.0f} chars/s")
    emit(
        {
            "benchmark": "throughput",
            "model": "chapter LSTM (embed 32, hidden 128, seq 50, batch 64, Adam 3e-3)",
            "machine": machine(),
            "chapter_chars_per_s": [round(x) for x in theirs],
            "chartui_chars_per_s": [round(x) for x in ours],
            "chapter_median": round(median(theirs)),
            "chartui_median": round(median(ours)),
            "ratio": round(median(ours) / median(theirs), 3),
        }
    )


if __name__ == "__main__":
    main()
