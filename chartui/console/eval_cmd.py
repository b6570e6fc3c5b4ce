"""``chartui eval``: loss (nats/char), bits/char and perplexity on the validation split or a
file, by the stateful protocol (the headline) or nanoGPT's random windows; optionally dynamic
evaluation beside it, as a separate figure."""

from __future__ import annotations

import argparse
from pathlib import Path

from chartui.config import DynamicSettings
from chartui.console.render import print_json, stdout_console
from chartui.engine.corpus import describe_chars, read_text
from chartui.engine.device import pick_device
from chartui.engine.evaluate import EvalResult, evaluate_dynamic, evaluate_ids, evaluate_windows
from chartui.engine.runs import LoadedModel, open_model, run_corpus, split_ids, validation_ids
from chartui.errors import ConfigError, CorpusError


def run(args: argparse.Namespace) -> int:
    for name in ("block", "windows", "segment"):
        if getattr(args, name) < 1:
            raise ConfigError(f"--{name} must be a whole number of at least 1 (got {getattr(args, name)})")
    for name in ("dynamic_lr", "dynamic_decay"):
        if not 0 <= getattr(args, name) < 1:
            raise ConfigError(f"--{name.replace('_', '-')} must be at least 0 and below 1 (got {getattr(args, name)})")
    device = pick_device(args.device)
    loaded = open_model(args.run, args.checkpoint, device=device)
    vocab, info = loaded.vocab, loaded.info
    if args.text:
        path = Path(args.text)
        text = read_text(path, "--text")
        ids = vocab.encode(text, skip_unknown=True)
        skipped = len(text) - len(ids)
        unknown = vocab.unknown(text) if skipped else []
        source = str(path)
    else:
        ids, skipped, unknown = validation_ids(info), 0, []
        source = f"{info.train.corpus} (validation split, last {info.train.val_fraction:.0%})"
    if args.protocol == "windows":
        result = evaluate_windows(loaded.model, ids, block=args.block, windows=args.windows, device=device)
        protocol = f"windows: {args.windows:,} random windows of {args.block}, each from a zero state"
    else:
        result = evaluate_ids(loaded.model, ids, device=device, skipped=skipped)
        protocol = "stateful: every character once, with its whole history"
    report = {
        **result.to_dict(),
        "protocol": args.protocol,
        "run": str(loaded.path.parent),
        "checkpoint": loaded.path.name,
        "step": loaded.progress.step,
        "source": source,
        "unknown_chars": unknown,
    }
    dynamic = _dynamic(args, loaded, ids, device) if args.dynamic else None
    if dynamic is not None:
        report["dynamic"] = {**dynamic[0].to_dict(), "settings": dynamic[1].to_dict()}
    if args.json:
        print_json(report)
        return 0
    out = stdout_console()
    out.print(f"{loaded.path.parent.name} ({loaded.path.name}, step {loaded.progress.step:,}) on {source}", markup=False)
    out.print(f"  protocol    {protocol}", markup=False)
    _scores(out, result)
    skipped_note = f", {skipped:,} skipped (not in the vocabulary: {describe_chars(unknown)})" if skipped else ""
    out.print(f"  characters  {result.chars:,} predicted" + skipped_note, markup=False)
    if dynamic is not None:
        settings = dynamic[1]
        out.print(
            f"dynamic evaluation (a copy adapts as it reads: segments of {settings.segment}, lr {settings.lr:g}, "
            f"decay {settings.decay:g}; the run is unchanged):",
            markup=False,
        )
        _scores(out, dynamic[0])
    return 0


def _scores(out, result: EvalResult) -> None:
    out.print(f"  loss        {result.loss:.4f} nats/char")
    out.print(f"  bits/char   {result.bits_per_char:.4f}")
    out.print(f"  perplexity  {result.perplexity:.3f}" if result.perplexity is not None else "  perplexity  -")


def _dynamic(args: argparse.Namespace, loaded: LoadedModel, ids, device) -> tuple[EvalResult, DynamicSettings]:
    """Dynamic evaluation of ``ids``; each weight's step size is set from the run's training text."""
    info = loaded.info
    settings = DynamicSettings(segment=args.segment, lr=args.dynamic_lr, decay=args.dynamic_decay)
    try:
        train = split_ids(run_corpus(info), info.vocab, info.train.val_fraction)[0]
    except CorpusError as exc:
        raise CorpusError(f"dynamic evaluation needs the run's training text to set its step sizes: {exc}") from None
    train = train[-(2 * settings.rms_batches * settings.segment + 1) :]  # nearest the validation split; half warm-up
    return evaluate_dynamic(loaded.model, ids, train_ids=train, settings=settings, device=device), settings
