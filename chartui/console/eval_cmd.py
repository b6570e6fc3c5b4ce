"""``chartui eval``: loss (nats/char), bits/char and perplexity on the validation split or a file."""

from __future__ import annotations

import argparse
from pathlib import Path

from chartui.console.render import print_json, stdout_console
from chartui.engine.checkpoint import open_run
from chartui.engine.corpus import decode_text, describe_chars, load_corpus
from chartui.engine.device import autocast_dtype, pick_device
from chartui.engine.evaluate import evaluate_ids
from chartui.errors import CorpusError


def run(args: argparse.Namespace) -> int:
    device = pick_device(args.device)
    model, vocab, ckpt = open_run(args.run, args.checkpoint, device=device)
    if args.text:
        path = Path(args.text)
        try:
            raw = path.read_bytes()
        except OSError as exc:
            raise CorpusError(f"cannot read {args.text}: {exc.strerror or exc}; give a UTF-8 text file") from None
        text = decode_text(raw, args.text)
        ids = vocab.encode(text, skip_unknown=True)
        skipped = len(text) - len(ids)
        unknown = vocab.unknown(text) if skipped else []
        source = str(path)
    else:
        train = ckpt.train_config
        corpus = load_corpus(train.corpus)
        want = (ckpt.meta.get("corpus") or {}).get("sha256")
        if want and corpus.sha256 != want:
            raise CorpusError(f"the run's corpus {train.corpus} changed since training (sha256 differs); score a file with --text FILE")
        all_ids = vocab.encode(corpus.text(), skip_unknown=True) if corpus.vocab != vocab else corpus.ids
        n_val = int(len(all_ids) * train.val_fraction)
        if n_val < 2:
            raise CorpusError("this run has no validation split (--val-fraction 0); score a file with --text FILE")
        ids, skipped, unknown = all_ids[len(all_ids) - n_val :], 0, []
        source = f"{train.corpus} (validation split, last {train.val_fraction:.0%})"
    result = evaluate_ids(model, ids, device=device, autocast_dtype=autocast_dtype(device), skipped=skipped)
    report = {**result.to_dict(), "run": str(ckpt.path.parent), "checkpoint": ckpt.path.name,
              "step": ckpt.meta.get("step"), "source": source, "unknown_chars": unknown}
    if args.json:
        print_json(report)
        return 0
    out = stdout_console()
    out.print(f"{ckpt.path.parent.name} ({ckpt.path.name}, step {ckpt.meta.get('step', 0):,}) on {source}", markup=False)
    out.print(f"  loss        {result.loss:.4f} nats/char")
    out.print(f"  bits/char   {result.bits_per_char:.4f}")
    out.print(f"  perplexity  {result.perplexity:.3f}")
    out.print(f"  characters  {result.chars:,} predicted" + (f", {skipped:,} skipped (not in the vocabulary: {describe_chars(unknown)})" if skipped else ""), markup=False)
    return 0
