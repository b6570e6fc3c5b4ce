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
from chartui.config import DEFAULT_PRESET, DEVICES
from chartui.errors import ChartuiError, NothingToTrain

# How the training settings are grouped in --help (any other train setting is "training").
GROUPS = {
    "budget (whichever comes first; given ones replace the preset's)": ("epochs", "max_steps", "max_seconds"),
    "cadence and machine": (
        "eval_interval",
        "eval_seconds",
        "sample_interval",
        "sample_seconds",
        "sample_epochs",
        "sample_prompt",
        "sample_length",
        "sample_temperature",
        "checkpoint_seconds",
        "device",
        "threads",
        "log_every",
        "metrics_every",
        "seed",
    ),
}


class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors (``chartui: error: ...``, exit status 2) and no
    abbreviated flags: ``--arch`` must never quietly mean ``--archs``."""

    def __init__(self, *args, **kwargs) -> None:
        kwargs.setdefault("allow_abbrev", False)
        super().__init__(*args, **kwargs)

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


def _whole_numbers(text: str) -> list[int]:
    try:
        return [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected whole numbers separated by commas, got {text!r}") from None


_PARSE = {int: _int, float: _number, list: _whole_numbers, str: str}


def _add_setting_flags(p: argparse.ArgumentParser, *, skip: tuple[str, ...] = ()) -> None:
    """A flag for every model and training setting, typed and documented by its config field."""
    from chartui.config import settings

    groups = {
        "model": p.add_argument_group("model (override the preset)"),
        "train": p.add_argument_group("training (override the preset)"),
    }
    for title in GROUPS:
        groups[title] = p.add_argument_group(title)
    for s in settings():
        if s.name in skip:
            continue
        group = s.section if s.section == "model" else next((t for t, names in GROUPS.items() if s.name in names), "train")
        metavar = "N,N" if s.kind is list else None
        groups[group].add_argument(
            s.flag, dest=s.name, type=_PARSE[s.kind], choices=s.choices, metavar=metavar, help=s.help.replace("%", "%%")
        )


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="chartui",
        description="Train character-level language models (RNN, LSTM, GRU) and watch them learn. "
        "With no command, opens the terminal app.",
    )
    parser.add_argument("--version", action="version", version=f"chartui {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    p = sub.add_parser(
        "ui", help="open the terminal app (the default)", description="Open the terminal app, optionally on an existing run."
    )
    p.add_argument(
        "run", nargs="?", metavar="RUN", help="a run folder to open (curves, generation, gates), or one being trained to watch it"
    )
    p.add_argument("--corpus", help="corpus for the Train tab (default: shakespeare)")
    p.add_argument("--preset", help=f"preset for the Train tab (default: {DEFAULT_PRESET})")

    p = sub.add_parser(
        "data",
        help="corpus statistics and character histogram",
        description="Show a corpus: size, vocabulary, a sample, the top characters.",
    )
    p.add_argument(
        "corpus",
        nargs="?",
        default="shakespeare",
        metavar="CORPUS",
        help="shakespeare (default), tinyshakespeare, or a path to a text file or folder",
    )
    p.add_argument("--top", type=_int, default=30, help="how many characters the histogram shows (default 30)")
    p.add_argument("--json", action="store_true", help="print JSON instead")

    p = sub.add_parser(
        "train", help="train a model (headless)", description="Train a model headless; Ctrl-C saves a resumable checkpoint."
    )
    p.add_argument("--corpus", help="shakespeare (default), tinyshakespeare, or a path to a text file or folder")
    p.add_argument(
        "--preset", help=f"named preset from models/ or a .toml file (default: {DEFAULT_PRESET}); see `chartui presets`"
    )
    p.add_argument("--run", metavar="DIR", help="run folder to create (default: a new folder under checkpoints/)")
    p.add_argument("--resume", metavar="RUN", help="continue a run exactly where it stopped (budget flags extend it)")
    p.add_argument("--json", action="store_true", help="print one JSON object per event instead")
    _add_setting_flags(p, skip=("corpus",))

    p = sub.add_parser(
        "eval",
        help="loss, bits/char and perplexity of a run",
        description="Score a run on its validation split or on any text file.",
    )
    p.add_argument("run", metavar="RUN", help="run folder (or checkpoint file)")
    p.add_argument("--text", metavar="FILE", help="score this UTF-8 file instead (unknown characters are skipped and counted)")
    p.add_argument(
        "--checkpoint", choices=("auto", "best", "last"), default="auto", help="which checkpoint (default: best if there is one)"
    )
    p.add_argument("--device", choices=DEVICES, default="auto", help="where to compute")
    p.add_argument("--json", action="store_true", help="print JSON instead")

    p = sub.add_parser(
        "sample", help="generate text from a run", description="Stream text from a trained run, character by character."
    )
    p.add_argument("run", metavar="RUN", help="run folder (or checkpoint file)")
    p.add_argument("--prompt", default="", help="text the model reads first (default: the start of a speech)")
    p.add_argument("--length", type=_int, default=500, help="characters to generate (default 500)")
    p.add_argument("--forever", action="store_true", help="generate until Ctrl-C")
    p.add_argument("--temperature", type=_number, default=0.8, help="0 = greedy; below 1 safer, above 1 wilder (default 0.8)")
    p.add_argument("--top-k", dest="top_k", type=_int, help="sample among the k likeliest characters")
    p.add_argument("--top-p", dest="top_p", type=_number, help="sample among the likeliest characters covering probability p")
    p.add_argument("--seed", type=_int, default=0, help="same seed, same text (default 0)")
    p.add_argument("--num-samples", dest="num_samples", type=_int, default=1, help="generate N samples at once (batched)")
    p.add_argument(
        "--checkpoint", choices=("auto", "best", "last"), default="auto", help="which checkpoint (default: best if there is one)"
    )
    p.add_argument("--color", action="store_true", help="colour each character by the probability the model gave it")
    p.add_argument("--json", action="store_true", help="print the text and each character's probability as JSON")

    p = sub.add_parser(
        "gates",
        help="what the gates do on a passage",
        description="Colour a passage by one unit's gate activation, with a units x characters heatmap.",
    )
    p.add_argument("run", metavar="RUN", help="run folder (or checkpoint file)")
    p.add_argument("--text", help="the passage to trace")
    p.add_argument("--text-file", dest="text_file", metavar="FILE", help="read the passage from a file instead")
    p.add_argument("--layer", type=_int, default=0, help="layer, from 0 (default 0)")
    p.add_argument(
        "--gate",
        help="which gate of the model's cell colours the text (default: the cell's own choice, cell for an LSTM; "
        "a name it does not have lists the ones it has)",
    )
    p.add_argument("--unit", type=_int, help="the unit that colours the text (default: the top-ranked one)")
    p.add_argument("--units", type=_int, default=16, help="units in the heatmap (default 16)")
    p.add_argument("--rank", type=_int, default=8, help="how many ranked units to list (default 8)")
    p.add_argument("--checkpoint", choices=("auto", "best", "last"), default="auto", help="which checkpoint")
    p.add_argument("--json", action="store_true", help="print the arrays as JSON instead")

    p = sub.add_parser(
        "compare",
        help="train rnn/lstm/gru with one budget and compare",
        description="The chapter's comparison table: same budget, seed and corpus for each architecture.",
    )
    p.add_argument("--archs", default="rnn,lstm,gru", help="comma-separated architectures (default rnn,lstm,gru)")
    p.add_argument("--corpus", help="corpus (default: the preset's)")
    p.add_argument("--preset", default="seed", help="shared hyper-parameters (default: seed, the chapter's)")
    p.add_argument("--prompt", default="ROMEO:\n", help="prompt for the side-by-side samples")
    p.add_argument("--run", metavar="DIR", help="folder for the runs (default checkpoints/compare-<time>)")
    p.add_argument("--json", action="store_true", help="print JSON instead")
    _add_setting_flags(p, skip=("corpus", "arch"))

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
    except NothingToTrain as exc:
        sys.stderr.write(f"chartui: {exc}\n")
        return exc.exit_code
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
