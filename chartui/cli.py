"""The command line: ``chartui`` (the TUI) and the headless subcommands.

Only argparse and the stdlib-only config are imported at start-up, so ``chartui --help`` is
instant (no torch); each subcommand imports what it needs when it runs. A ChartuiError
becomes one line on stderr and exit status 2 (1 for failures of the environment), never a
traceback.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence

from chartui import __version__
from chartui.config import ARCHS, BATCHING, DEFAULT_PRESET, DEVICES
from chartui.errors import ChartuiError

# Flags that map one-to-one onto ModelConfig / TrainConfig fields (None = not given).
TRAIN_FLAGS = (
    "corpus", "arch", "layers", "embed", "hidden", "dropout", "seq_len", "batch_size", "lr", "batching",
    "epochs", "max_steps", "max_seconds", "device", "seed", "val_fraction", "schedule", "warmup_steps",
    "weight_decay", "grad_clip", "eval_interval", "eval_seconds", "sample_interval", "sample_seconds",
    "checkpoint_seconds", "threads", "log_every",
)


class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors: ``chartui: error: ...`` and exit status 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        sys.stderr.write(f"chartui: error: {message} (see `{self.prog} --help`)\n")
        raise SystemExit(2)


def _int(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None


def _number(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None


def _add_model_flags(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("model (override the preset)")
    g.add_argument("--arch", choices=ARCHS, help="recurrent cell")
    g.add_argument("--layers", type=_int, help="recurrent layers")
    g.add_argument("--embed", type=_int, help="character embedding width")
    g.add_argument("--hidden", type=_int, help="hidden units per layer")
    g.add_argument("--dropout", type=_number, help="dropout between layers and before the head (0..1)")


def _add_train_flags(p: argparse.ArgumentParser, *, budget_help: str = "") -> None:
    g = p.add_argument_group("training (override the preset)")
    g.add_argument("--seq-len", dest="seq_len", type=_int, help="characters per sequence (BPTT length)")
    g.add_argument("--batch-size", dest="batch_size", type=_int, help="sequences per step")
    g.add_argument("--lr", type=_number, help="peak learning rate (AdamW)")
    g.add_argument("--batching", choices=BATCHING, help="stateful streams (hidden state carried) or shuffled windows")
    g.add_argument("--schedule", choices=("cosine", "constant"), help="learning-rate schedule after warm-up")
    g.add_argument("--warmup-steps", dest="warmup_steps", type=_int, help="linear warm-up steps")
    g.add_argument("--weight-decay", dest="weight_decay", type=_number, help="AdamW weight decay on matrices")
    g.add_argument("--grad-clip", dest="grad_clip", type=_number, help="clip the gradient norm to this (0: off)")
    g.add_argument("--val-fraction", dest="val_fraction", type=_number, help="share of the corpus (its end) held out for validation")
    b = p.add_argument_group("budget (whichever comes first; given ones replace the preset's)" + budget_help)
    b.add_argument("--epochs", type=_number, help="passes over the training split")
    b.add_argument("--max-steps", dest="max_steps", type=_int, help="optimiser steps")
    b.add_argument("--max-seconds", dest="max_seconds", type=_number, help="seconds of training")
    c = p.add_argument_group("cadence and machine")
    c.add_argument("--eval-interval", dest="eval_interval", type=_int, help="evaluate every N steps")
    c.add_argument("--eval-seconds", dest="eval_seconds", type=_number, help="evaluate every S seconds")
    c.add_argument("--sample-interval", dest="sample_interval", type=_int, help="write a sample every N steps")
    c.add_argument("--sample-seconds", dest="sample_seconds", type=_number, help="write a sample every S seconds")
    c.add_argument("--checkpoint-seconds", dest="checkpoint_seconds", type=_number, help="save a resumable checkpoint at least every S seconds (default 30)")
    c.add_argument("--device", choices=DEVICES, help="auto picks cuda, then mps, then cpu")
    c.add_argument("--threads", type=_int, help="CPU threads for torch (default: one per core)")
    c.add_argument("--log-every", dest="log_every", type=_int, help="gather losses from the GPU every N steps")
    c.add_argument("--seed", type=_int, help="random seed (same seed, config and device: same run)")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="chartui",
        description="Train character-level language models (RNN, LSTM, GRU) and watch them learn. "
        "With no command, opens the terminal app.",
    )
    parser.add_argument("--version", action="version", version=f"chartui {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    p = sub.add_parser("ui", help="open the terminal app (the default)", description="Open the terminal app, optionally on an existing run.")
    p.add_argument("run", nargs="?", metavar="RUN", help="a run folder to open (curves, generation, gates), or one being trained to watch it")
    p.add_argument("--corpus", help="corpus for the Train tab (default: shakespeare)")
    p.add_argument("--preset", help=f"preset for the Train tab (default: {DEFAULT_PRESET})")

    p = sub.add_parser("data", help="corpus statistics and character histogram", description="Show a corpus: size, vocabulary, a sample, the top characters.")
    p.add_argument("corpus", nargs="?", default="shakespeare", metavar="CORPUS", help="shakespeare (default), tinyshakespeare, or a path to a text file or folder")
    p.add_argument("--top", type=_int, default=30, help="how many characters the histogram shows (default 30)")
    p.add_argument("--json", action="store_true", help="print JSON instead")

    p = sub.add_parser("train", help="train a model (headless)", description="Train a model headless; Ctrl-C saves a resumable checkpoint.")
    p.add_argument("--corpus", help="shakespeare (default), tinyshakespeare, or a path to a text file or folder")
    p.add_argument("--preset", help=f"named preset from models/ or a .toml file (default: {DEFAULT_PRESET}); see `chartui presets`")
    p.add_argument("--run", metavar="DIR", help="run folder to create (default: a new folder under checkpoints/)")
    p.add_argument("--resume", metavar="RUN", help="continue a run exactly where it stopped (budget flags extend it)")
    p.add_argument("--json", action="store_true", help="print one JSON object per event instead")
    _add_model_flags(p)
    _add_train_flags(p)

    p = sub.add_parser("eval", help="loss, bits/char and perplexity of a run", description="Score a run on its validation split or on any text file.")
    p.add_argument("run", metavar="RUN", help="run folder (or checkpoint file)")
    p.add_argument("--text", metavar="FILE", help="score this UTF-8 file instead (unknown characters are skipped and counted)")
    p.add_argument("--checkpoint", choices=("auto", "best", "last"), default="auto", help="which checkpoint (default: best if there is one)")
    p.add_argument("--device", choices=DEVICES, default="auto", help="where to compute")
    p.add_argument("--json", action="store_true", help="print JSON instead")

    p = sub.add_parser("sample", help="generate text from a run", description="Stream text from a trained run, character by character.")
    p.add_argument("run", metavar="RUN", help="run folder (or checkpoint file)")
    p.add_argument("--prompt", default="", help="text the model reads first (default: the start of a speech)")
    p.add_argument("--length", type=_int, default=500, help="characters to generate (default 500)")
    p.add_argument("--forever", action="store_true", help="generate until Ctrl-C")
    p.add_argument("--temperature", type=_number, default=0.8, help="0 = greedy; below 1 safer, above 1 wilder (default 0.8)")
    p.add_argument("--top-k", dest="top_k", type=_int, help="sample among the k likeliest characters")
    p.add_argument("--top-p", dest="top_p", type=_number, help="sample among the likeliest characters covering probability p")
    p.add_argument("--seed", type=_int, default=0, help="same seed, same text (default 0)")
    p.add_argument("--num-samples", dest="num_samples", type=_int, default=1, help="generate N samples at once (batched)")
    p.add_argument("--checkpoint", choices=("auto", "best", "last"), default="auto", help="which checkpoint (default: best if there is one)")
    p.add_argument("--color", action="store_true", help="colour each character by the probability the model gave it")
    p.add_argument("--json", action="store_true", help="print the text and each character's probability as JSON")

    p = sub.add_parser("gates", help="what the gates do on a passage", description="Colour a passage by one unit's gate activation, with a units x characters heatmap.")
    p.add_argument("run", metavar="RUN", help="run folder (or checkpoint file)")
    p.add_argument("--text", help="the passage to trace")
    p.add_argument("--text-file", dest="text_file", metavar="FILE", help="read the passage from a file instead")
    p.add_argument("--layer", type=int, default=0, help="layer, from 0 (default 0)")
    p.add_argument("--gate", help="lstm: input, forget, candidate, output, cell, hidden; gru: reset, update, candidate, hidden; rnn: hidden (default: forget for an LSTM, update for a GRU)")
    p.add_argument("--unit", type=int, help="the unit that colours the text (default: the top-ranked one)")
    p.add_argument("--units", type=_int, default=16, help="units in the heatmap (default 16)")
    p.add_argument("--rank", type=_int, default=8, help="how many ranked units to list (default 8)")
    p.add_argument("--checkpoint", choices=("auto", "best", "last"), default="auto", help="which checkpoint")
    p.add_argument("--json", action="store_true", help="print the arrays as JSON instead")

    p = sub.add_parser("compare", help="train rnn/lstm/gru with one budget and compare", description="The chapter's comparison table: same budget, seed and corpus for each architecture.")
    p.add_argument("--archs", default="rnn,lstm,gru", help="comma-separated architectures (default rnn,lstm,gru)")
    p.add_argument("--corpus", help="corpus (default: the preset's)")
    p.add_argument("--preset", default="seed", help="shared hyper-parameters (default: seed, the chapter's)")
    p.add_argument("--prompt", default="ROMEO:\n", help="prompt for the side-by-side samples")
    p.add_argument("--run", metavar="DIR", help="folder for the runs (default checkpoints/compare-<time>)")
    p.add_argument("--json", action="store_true", help="print JSON instead")
    _add_model_flags(p)
    _add_train_flags(p)

    p = sub.add_parser("runs", help="list training runs", description="List the runs under checkpoints/.")
    p.add_argument("--json", action="store_true", help="print JSON instead")

    p = sub.add_parser("presets", help="list the model presets", description="List the named presets in models/.")
    p.add_argument("--json", action="store_true", help="print JSON instead")
    return parser


def _handler(command: str) -> Callable[[argparse.Namespace], int]:
    """The function behind a subcommand, imported only when it runs."""
    import importlib

    module = importlib.import_module(f"chartui.console.{command}_cmd")
    return module.run


def main(argv: Sequence[str] | None = None) -> int:
    # numpy's BLAS only ever sees chartui's small step-by-step products (sampling, gate
    # replay), where threads buy nothing; its spinning thread pool would instead fight
    # torch's for the cores while a run trains. Set before anything imports numpy.
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    parser = build_parser()
    args = parser.parse_args(argv)
    command = args.command or "ui"
    if command == "ui" and args.command is None:
        args.run, args.corpus, args.preset = None, None, None
    try:
        return _handler(command)(args)
    except ChartuiError as exc:
        sys.stderr.write(f"chartui: error: {exc}\n")
        return exc.exit_code
    except KeyboardInterrupt:
        sys.stderr.write("chartui: interrupted\n")
        return 130
    except BrokenPipeError:
        # `chartui sample ... | head`: the reader left; not an error worth a traceback.
        try:
            sys.stdout = open("/dev/null", "w")  # noqa: SIM115
        except OSError:
            pass
        return 0
