"""Streaming generation speed on a CPU: chartui's sampler (one stream, and batched) against the
chapter's generate() on the same weights, for the chapter-size LSTM and a 512-wide one.

Weights are random (speed does not depend on training); each figure is the median of
several runs of ``--chars`` characters at temperature 0.8.

    python benchmarks/sampling.py
"""

from __future__ import annotations

import argparse
import time

from common import emit, log, machine, median

ALPHABET = "\n !$&',-.3:;?ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"  # tiny-shakespeare's 65


def timed(fn, repeats: int) -> list[float]:
    out = []
    for _ in range(repeats):
        start = time.perf_counter()
        n = fn()
        out.append(n / (time.perf_counter() - start))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--chars", type=int, default=5000)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--batch", type=int, default=64)
    args = ap.parse_args()
    import chapter_recipe as chapter
    import torch

    from chartui.config import ModelConfig
    from chartui.engine.corpus import Vocab
    from chartui.engine.models import CharModel
    from chartui.engine.sample import Sampler

    vocab = Vocab("".join(sorted(ALPHABET)))
    results = {}
    for name, embed, hidden in (("chapter LSTM (hidden 128)", 32, 128), ("LSTM hidden 512", 32, 512)):
        torch.manual_seed(0)
        theirs = chapter.CharRNN(vocab.size, embed, hidden, "lstm")
        ours = CharModel(ModelConfig(arch="lstm", embed=embed, hidden=hidden), vocab.size)
        ours.load_state_dict(
            {
                "embedding.weight": theirs.embedding.weight,
                "head.weight": theirs.fc.weight,
                "head.bias": theirs.fc.bias,
                **{f"rnn.{k}": v for k, v in theirs.rnn.state_dict().items()},
            }
        )
        prompt = vocab.encode("ROMEO:\n").tolist()

        # Each function is timed within this iteration; default arguments pin this iteration's models.
        def chapter_gen(theirs=theirs, prompt=prompt) -> int:
            theirs.generate(prompt, length=args.chars, temperature=0.8)
            return args.chars

        def single(ours=ours) -> int:
            sampler = Sampler(ours, vocab, prompt="ROMEO:\n", temperature=0.8, seed=1)
            for _ in sampler.tokens(args.chars):
                pass
            return args.chars

        def batched(ours=ours) -> int:
            sampler = Sampler(ours, vocab, prompt="ROMEO:\n", temperature=0.8, seed=1, num_samples=args.batch)
            steps = sampler.steps()
            for _ in range(args.chars // 4):
                next(steps)
            return args.batch * (args.chars // 4)

        theirs_rate = median(timed(chapter_gen, max(2, args.repeats // 2)))
        single_rate = median(timed(single, args.repeats))
        batch_rate = median(timed(batched, max(2, args.repeats // 2)))
        results[name] = {
            "chapter_generate_chars_per_s": round(theirs_rate),
            "chartui_stream_chars_per_s": round(single_rate),
            "speedup": round(single_rate / theirs_rate, 2),
            f"chartui_batch{args.batch}_chars_per_s": round(batch_rate),
        }
        log(name, results[name])
    emit({"benchmark": "sampling", "machine": machine(), "chars": args.chars, "results": results})


if __name__ == "__main__":
    main()
