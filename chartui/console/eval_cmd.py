"""``chartui eval``: loss (nats/char), bits/char and perplexity on the validation split or a file."""

from __future__ import annotations

import argparse
from pathlib import Path

from chartui.console.render import print_json, stdout_console
from chartui.engine.corpus import decode_text, describe_chars
from chartui.engine.device import pick_device
from chartui.engine.evaluate import evaluate_ids
from chartui.engine.runs import open_model, validation_ids
from chartui.errors import CorpusError


def run(args: argparse.Namespace) -> int:
    device = pick_device(args.device)
    loaded = open_model(args.run, args.checkpoint, device=device)
    vocab, info = loaded.vocab, loaded.info
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
        ids, skipped, unknown = validation_ids(info), 0, []
        source = f"{info.train.corpus} (validation split, last {info.train.val_fraction:.0%})"
    result = evaluate_ids(loaded.model, ids, device=device, skipped=skipped)
    report = {
        **result.to_dict(),
        "run": str(loaded.path.parent),
        "checkpoint": loaded.path.name,
        "step": loaded.progress.step,
        "source": source,
        "unknown_chars": unknown,
    }
    if args.json:
        print_json(report)
        return 0
    out = stdout_console()
    out.print(f"{loaded.path.parent.name} ({loaded.path.name}, step {loaded.progress.step:,}) on {source}", markup=False)
    out.print(f"  loss        {result.loss:.4f} nats/char")
    out.print(f"  bits/char   {result.bits_per_char:.4f}")
    out.print(f"  perplexity  {result.perplexity:.3f}" if result.perplexity is not None else "  perplexity  -")
    out.print(
        f"  characters  {result.chars:,} predicted"
        + (f", {skipped:,} skipped (not in the vocabulary: {describe_chars(unknown)})" if skipped else ""),
        markup=False,
    )
    return 0
