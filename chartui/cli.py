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
from chartui.config import BEAM_LENGTH_PENALTY, DEFAULT_PRESET, WINDOW_BLOCK, WINDOW_COUNT, DynamicSettings, is_device
from chartui.display import unescape
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


def _device(text: str) -> str:
    if not is_device(text):
        raise argparse.ArgumentTypeError(f"unknown device {text!r}; choose one of auto, cpu, cuda, cuda:N (a GPU by index), mps")
    return text


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
        # free text: \n is a newline, as everywhere; a device may be cuda:N
        parse = unescape if s.name == "sample_prompt" else _device if s.name == "device" else _PARSE[s.kind]
        groups[group].add_argument(
            s.flag, dest=s.name, type=parse, choices=s.choices, metavar=metavar, help=s.help.replace("%", "%%")
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
    p.add_argument(
        "--run",
        "--run-dir",
        dest="run",
        metavar="DIR",
        help="run folder to create (default: a new folder under checkpoints/); under torchrun write --run-dir, "
        "since torchrun's parser reads --run as its own --run-path",
    )
    p.add_argument("--resume", metavar="RUN", help="continue a run exactly where it stopped (budget flags extend it)")
    p.add_argument(
        "--init-from",
        dest="init_from",
        metavar="RUN",
        help="fine-tune: a new run that starts from RUN's weights (its shape and vocabulary), fresh optimizer and schedule",
    )
    p.add_argument(
        "--tensorboard",
        metavar="DIR",
        help="also write the metrics and samples as TensorBoard logs in DIR, live (pip install 'chartui[tensorboard]')",
    )
    p.add_argument(
        "--extend-vocab",
        dest="extend_vocab",
        action="store_true",
        help="with --init-from: add rows for characters of the new corpus that RUN never saw (else they are refused)",
    )
    p.add_argument("--json", action="store_true", help="print one JSON object per event instead")
    p.add_argument(
        "--nproc",
        type=_int,
        help="train with N processes (DDP through torchrun): one per core of a CPU (a thread each) or one per GPU",
    )
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
    p.add_argument("--device", type=_device, default="auto", help="auto, cpu, cuda, cuda:N (a GPU by index) or mps")
    p.add_argument(
        "--protocol",
        choices=("stateful", "windows"),
        default="stateful",
        help="stateful (default): every character once, with its whole history; windows: random --block windows, "
        "each from a zero state, as nanoGPT's estimate_loss scores",
    )
    p.add_argument(
        "--block", type=_int, default=WINDOW_BLOCK, help="characters per window with --protocol windows (default %(default)s)"
    )
    p.add_argument("--windows", type=_int, default=WINDOW_COUNT, help="how many random windows (default %(default)s)")
    p.add_argument(
        "--dynamic",
        action="store_true",
        help="also report dynamic evaluation (Krause et al. 2018): a copy of the model adapts as it reads; the run is not changed",
    )
    p.add_argument(
        "--dynamic-lr",
        dest="dynamic_lr",
        type=_number,
        default=DynamicSettings.lr,
        help="dynamic evaluation's step size (default %(default)s)",
    )
    p.add_argument(
        "--dynamic-decay",
        dest="dynamic_decay",
        type=_number,
        default=DynamicSettings.decay,
        help="its pull back to the trained weights (default %(default)s)",
    )
    p.add_argument(
        "--segment",
        type=_int,
        default=DynamicSettings.segment,
        help="characters scored, then learned from, at a time (default %(default)s)",
    )
    p.add_argument("--json", action="store_true", help="print JSON instead")

    p = sub.add_parser(
        "sample", help="generate text from a run", description="Stream text from a trained run, character by character."
    )
    p.add_argument("run", metavar="RUN", help="run folder (or checkpoint file)")
    p.add_argument(
        "--prompt", default="", help="text the model reads first (default: the start of a speech); \\n, \\t, \\\\ escapes"
    )
    p.add_argument(
        "--prompt-file", dest="prompt_file", metavar="FILE", help="read the prompt from a UTF-8 file (as is, no escapes)"
    )
    p.add_argument("--length", type=_int, default=500, help="characters to generate (default 500)")
    p.add_argument("--forever", action="store_true", help="generate until Ctrl-C")
    p.add_argument("--temperature", type=_number, help="0 = greedy; below 1 safer, above 1 wilder (default 0.8)")
    p.add_argument("--beam", type=_int, metavar="N", help="beam search with N beams instead of sampling (deterministic)")
    p.add_argument(
        "--length-penalty",
        dest="length_penalty",
        type=_number,
        default=BEAM_LENGTH_PENALTY,
        help="beam search: rank texts by log-probability / ((5 + length) / 6) ** A (default %(default)s)",
    )
    p.add_argument(
        "--stop", default="", help="beam search: a text that ends a hypothesis early, such as \\n\\n (escapes as --prompt)"
    )
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
    p.add_argument("--svg", metavar="FILE", help="write the coloured view as an SVG file (any browser shows it)")

    p = sub.add_parser(
        "compare",
        help="train rnn/lstm/gru with one budget and compare",
        description="The chapter's comparison table: same budget, seed and corpus for each architecture.",
    )
    p.add_argument("--archs", default="rnn,lstm,gru", help="comma-separated architectures (default rnn,lstm,gru)")
    p.add_argument("--corpus", help="corpus (default: the preset's)")
    p.add_argument("--preset", default="seed", help="shared hyper-parameters (default: seed, the chapter's)")
    p.add_argument(
        "--prompt",
        help="prompt for the side-by-side samples (default: ROMEO: and a newline, or a newline where the corpus lacks those letters)",
    )
    p.add_argument("--run", metavar="DIR", help="folder for the runs (default checkpoints/compare-<time>)")
    p.add_argument("--json", action="store_true", help="print JSON instead")
    _add_setting_flags(p, skip=("corpus", "arch"))

    p = sub.add_parser(
        "runs", help="list, delete or rename training runs", description="List the runs under checkpoints/; delete or rename one."
    )
    p.add_argument("--json", action="store_true", help="print JSON instead")
    actions = p.add_subparsers(dest="runs_action", metavar="{delete,rename}")
    a = actions.add_parser(
        "delete",
        help="delete runs (asks first)",
        description="Delete runs: the files chartui wrote in each, then the folder if nothing else is in it. "
        "Refuses folders that are not runs and runs being trained.",
    )
    a.add_argument("runs", nargs="+", metavar="RUN", help="run folders, or names under checkpoints/")
    a.add_argument("--yes", "-y", action="store_true", help="do not ask (needed when stdin is not a terminal)")
    a.add_argument("--json", action="store_true", help="print what was deleted as JSON")
    a = actions.add_parser("rename", help="rename a run", description="Rename (move) a run folder; refuses an existing target.")
    a.add_argument("run", metavar="RUN", help="run folder, or name under checkpoints/")
    a.add_argument("new", metavar="NEW", help="a new name (beside the run) or a path")
    a.add_argument("--json", action="store_true", help="print the new path as JSON")

    p = sub.add_parser(
        "export",
        help="a run's metrics as TensorBoard logs or CSV",
        description="Convert a run's metrics.jsonl: --to tensorboard writes a log folder (tensorboard --logdir DIR); "
        "--to csv writes the step and eval records as CSV (to stdout unless --out).",
    )
    p.add_argument("run", metavar="RUN", help="run folder, or name under checkpoints/")
    p.add_argument("--to", choices=("tensorboard", "csv"), required=True, help="the format")
    p.add_argument("--out", metavar="PATH", help="a folder (tensorboard) or file (csv)")
    p.add_argument("--json", action="store_true", help="print what was written as JSON")

    p = sub.add_parser(
        "serve",
        help="serve the app to a web browser",
        description="Serve the app to a web browser (textual-serve). Each page load starts its own app. "
        "Listens on this machine only unless --host says otherwise; on a remote box, forward the port over ssh.",
    )
    p.add_argument("run", nargs="?", metavar="RUN", help="a run to open in each page (default: none, as `chartui`)")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1: this machine only)")
    p.add_argument("--port", type=_int, default=8000, help="port (default 8000)")
    p.add_argument("--public-url", dest="public_url", help="the URL browsers use, when behind a proxy or tunnel")
    p.add_argument("--corpus", help="the Train tab's corpus (default: the settings file's, else shakespeare)")
    p.add_argument("--preset", help="the Train tab's preset")
    p.add_argument("--json", action="store_true", help="print the URL as JSON before serving")

    p = sub.add_parser(
        "completion",
        help="print a shell completion script",
        description="Print a completion script: chartui completion bash > ~/.local/share/bash-completion/completions/chartui "
        "(zsh: into a folder on $fpath as _chartui).",
    )
    p.add_argument("shell", choices=("bash", "zsh", "tcsh"), help="the shell")

    p = sub.add_parser(
        "keys",
        help="list the app's key bindings and their ids",
        description="List every key binding of the app with the id that [keymap] in the settings file remaps it by.",
    )
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
    if sys.stdout is None:  # started with stdout closed (`>&-`): nowhere to say anything but stderr
        if sys.stderr is not None:
            sys.stderr.write(
                "chartui: error: standard output is closed; give chartui somewhere to write (a terminal, a file, /dev/null)\n"
            )
        return 2
    parser = build_parser()
    args = parser.parse_args(argv)
    command = args.command or "ui"
    if command == "ui" and args.command is None:
        args.run, args.corpus, args.preset = None, None, None
    if command == "completion":  # the parser describes itself; no command module needed
        import shtab

        sys.stdout.write(shtab.complete(parser, shell=args.shell, root_prefix="chartui"))
        return 0
    try:
        code = _handler(command)(args)
        sys.stdout.flush()  # a full disk behind stdout shows here, not at exit
        return code
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
        from chartui.console.render import silence_stdout

        silence_stdout()
        return 0
    except OSError as exc:
        if exc.filename is not None:  # a file the command touched: say which, and why
            sys.stderr.write(f"chartui: error: {exc.strerror or exc}: {exc.filename}\n")
            return 1
        # stdout on a full disk (`> /dev/full`), closed, or on a file system gone read-only
        from chartui.console.render import silence_stdout

        silence_stdout()
        sys.stderr.write(f"chartui: error: cannot write the output: {exc.strerror or exc}; nothing saved was changed\n")
        return 1
