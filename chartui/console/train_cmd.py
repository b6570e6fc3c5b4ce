"""``chartui train``: the trainer's events as a live display, plain lines, or JSON lines.

Ctrl-C (SIGINT), SIGTERM and SIGHUP ask the trainer to stop after the current step; it
saves a resumable checkpoint and the process exits (status 130). A second Ctrl-C exits at
once, keeping the last periodic checkpoint (at most ``--checkpoint-seconds`` old).
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import time
from collections.abc import Iterator
from contextlib import closing

from rich.live import Live
from rich.panel import Panel
from rich.progress_bar import ProgressBar
from rich.table import Table
from rich.text import Text

from chartui.config import DEFAULT_PRESET, build_configs, load_preset, overrides_from
from chartui.console.render import is_tty, print_json, silence_stdout, stderr_console, stdout_console
from chartui.console.signals import stop_on_signals
from chartui.display import finished_word, fmt_duration, fmt_loss, fmt_rate, params_line, printable
from chartui.engine import finetune
from chartui.engine.corpus import load_corpus
from chartui.engine.events import (
    CheckpointSaved,
    EvalDone,
    Event,
    Finished,
    PromptReplaced,
    SampleReady,
    Started,
    StepDone,
    ThreadsChanged,
)
from chartui.engine.precision import configs_for_machine
from chartui.engine.tracking import TensorBoardWriter
from chartui.engine.train import Trainer
from chartui.errors import ConfigError
from chartui.settings import load_settings

EXIT = {"budget": 0, "stopped": 130, "diverged": 1, "error": 1}


def run(args: argparse.Namespace) -> int:
    if args.nproc is not None and args.nproc < 1:
        raise ConfigError(f"--nproc must be a whole number of at least 1 (got {args.nproc})")
    if args.nproc and args.nproc > 1 and "WORLD_SIZE" not in os.environ:
        _check_launch(args, args.nproc)
        return _launch_torchrun(args.nproc)
    overrides = overrides_from(args)
    # Before any run folder exists, so a missing package or a bad folder refuses cleanly; under
    # torchrun only rank 0 writes.
    main_rank = os.environ.get("RANK", "0") == "0"
    tensorboard = TensorBoardWriter(args.tensorboard) if args.tensorboard and main_rank else None
    try:
        trainer = _trainer(args, overrides)
    except BaseException:
        if tensorboard is not None:
            tensorboard.close()
        raise
    if tensorboard is not None:
        trainer.sinks.append(tensorboard)
    try:
        return _report(args, trainer)
    finally:
        for sink in trainer.sinks:
            sink.close()


def _trainer(args: argparse.Namespace, overrides: dict) -> Trainer:
    """A new run's trainer, or a resumed one's, as the flags say."""
    if args.resume:
        if args.init_from:
            raise ConfigError("--resume continues a run; --init-from starts a new one from a run's weights: give one of them")
        if args.preset or args.run:
            raise ConfigError(
                "--resume continues a run as it was trained; drop --preset and --run (budget and rate flags may change)"
            )
        return Trainer.resume(args.resume, overrides)
    user = load_settings()  # the settings file's default preset and corpus, when not given here
    preset = load_preset(args.preset or user.preset or DEFAULT_PRESET)
    if user.corpus and overrides.get("corpus") is None:
        overrides["corpus"] = user.corpus
    model_config, train_config = configs_for_machine(preset, overrides)
    corpus, source = None, None
    if args.init_from is not None:
        corpus = load_corpus(train_config.corpus)
        source = finetune.open_source(args.init_from, corpus.vocab, extend=args.extend_vocab)
        given = {k: v for k, v in overrides.items() if v is not None}
        model_config = finetune.model_config(source, model_config, given)
    elif args.extend_vocab:
        raise ConfigError("--extend-vocab grows the vocabulary of the run given with --init-from; add --init-from RUN")
    return Trainer.new(model_config, train_config, run=args.run, preset=preset.name, corpus=corpus, init_from=source)


def _report(args: argparse.Namespace, trainer: Trainer) -> int:
    # Closed here, not whenever the generator is collected: its cleanup (the run's lock, the
    # process group under torchrun) must run before the interpreter starts shutting down.
    with closing(trainer.events()) as events:
        return _consume(args, trainer, events)


def _consume(args: argparse.Namespace, trainer: Trainer, events: Iterator[Event]) -> int:
    if not trainer.dist.main:  # under torchrun, rank 0 alone speaks
        with stop_on_signals(trainer, quiet=True):
            finished = next(e for e in events if isinstance(e, Finished))
        return EXIT.get(finished.reason, 1)
    with stop_on_signals(trainer) as signals:
        try:
            if args.json:
                finished = _json(trainer, events)
            elif is_tty():
                finished = _live(trainer, events)
            else:
                finished = _plain(trainer, events)
        except OSError as exc:  # the output's reader left (`| head`) or its disk is full
            return _output_lost(trainer, events, exc)
    if finished.reason in ("diverged", "error"):
        stderr_console().print(f"chartui: error: {finished.message}", markup=False)
    code = EXIT.get(finished.reason, 1)
    return 143 if code == 130 and signals.get("last") == signal.SIGTERM else code


def _check_launch(args: argparse.Namespace, nproc: int) -> None:
    """What every process of a torchrun job would refuse, refused once, before it starts."""
    if args.resume:
        return  # the run's own checks (its world size, its batch) speak from rank 0
    preset = load_preset(args.preset or load_settings().preset or DEFAULT_PRESET)
    _, train = build_configs(preset, overrides_from(args))
    if train.batch_size % nproc:
        raise ConfigError(
            f"--batch-size {train.batch_size} does not split evenly over --nproc {nproc} processes; give a multiple of {nproc}"
        )
    if train.device.startswith("cuda"):
        import torch

        count = torch.cuda.device_count()
        if nproc > count:
            raise ConfigError(f"--nproc {nproc} needs {nproc} GPUs and this machine has {count}; give --nproc {count} or fewer")


def _launch_torchrun(nproc: int) -> int:
    """Run this same command under torchrun, one process per core or GPU (DDP); never returns."""
    argv, skip = [], False
    for arg in sys.argv[1:]:
        if skip:
            skip = False
        elif arg == "--nproc":
            skip = True
        elif arg == "--run" or arg.startswith("--run="):  # torchrun's parser takes --run for its --run-path
            argv.append(arg.replace("--run", "--run-dir", 1))
        elif not arg.startswith("--nproc="):
            argv.append(arg)
    os.environ.setdefault("OMP_NUM_THREADS", "1")  # on a CPU, one thread per process is what DDP is for
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={nproc}", "-m", "chartui", *argv]
    os.execv(sys.executable, cmd)
    return 1  # not reached


def _output_lost(trainer: Trainer, events: Iterator[Event], exc: OSError) -> int:
    """Nobody reads the progress any more: stop, save a resumable checkpoint, say so on stderr."""
    silence_stdout()
    trainer.stop()
    finished = next(e for e in events if isinstance(e, Finished))
    why = "its reader closed the pipe" if isinstance(exc, BrokenPipeError) else (exc.strerror or str(exc))
    stderr_console().print(
        f"chartui: the output stopped ({why}); training stopped at step {finished.steps:,} and saved a "
        f"resumable checkpoint: chartui train --resume {finished.run}",
        markup=False,
    )
    return 141 if isinstance(exc, BrokenPipeError) else 1  # 141: as a shell reports a command a closed pipe stopped


def _next_steps(finished: Finished) -> str:
    if finished.reason == "budget":
        return f'next: chartui sample {finished.run}   chartui eval {finished.run}   chartui gates {finished.run} --text "..."'
    if finished.reason == "stopped":
        return f"resume with: chartui train --resume {finished.run}"
    return ""


def _summary(finished: Finished) -> str:
    what = finished_word(finished.reason).split(" (")[0]
    return (
        f"{what} after {finished.steps:,} steps in {fmt_duration(finished.elapsed)}: val loss {fmt_loss(finished.val_loss)} "
        f"(best {fmt_loss(finished.best_val_loss)}), train loss {fmt_loss(finished.train_loss)}, "
        f"{fmt_rate(finished.chars_per_s)} chars/s; run {finished.run}"
    )


def _header(ev: Started) -> str:
    info = ev.info
    verb = f"resuming at step {ev.step:,}" if ev.resumed else "training"
    return (
        f"{verb} {info.label}, {params_line(info.params)}, on {info.corpus.name} "
        f"({info.corpus.train_chars:,} train / {info.corpus.val_chars:,} val chars, vocab {info.vocab.size}) "
        f"with {ev.device}{f' x {ev.processes} processes (DDP)' if ev.processes > 1 else ''} in {ev.precision}, "
        f"{info.train.batching} batches, {ev.steps_per_epoch:,} steps/epoch\nrun: {ev.run}"
    )


# --- JSON lines ---------------------------------------------------------------------------


def _json(trainer: Trainer, events: Iterator[Event]) -> Finished:
    every = trainer.config.metrics_every
    last_step: StepDone | None = None
    for ev in events:
        if isinstance(ev, StepDone):
            last_step = ev
            if ev.step % every and ev.step != 1:
                continue
            last_step = None
        if isinstance(ev, Finished) and last_step is not None:
            print_json(last_step.to_dict())
        print_json(ev.to_dict())
        if isinstance(ev, Finished):
            return ev
    raise AssertionError("the trainer ended without a Finished event")


# --- plain lines (pipes, log files) -------------------------------------------------------


def _step_line(ev: StepDone, val: float | None, precision: str) -> str:
    return (
        f"step {ev.step:,}  epoch {ev.epoch:.2f}  loss {ev.loss:.4f}  val {fmt_loss(val)}  lr {ev.lr:.2e}  "
        f"{fmt_rate(ev.chars_per_s)} chars/s ({precision})  elapsed {fmt_duration(ev.elapsed)}  eta {fmt_duration(ev.eta)}"
    )


def _plain(trainer: Trainer, events: Iterator[Event]) -> Finished:
    out = stdout_console()
    val: float | None = None
    last_print = 0.0
    precision = trainer.precision.name
    for ev in events:
        if isinstance(ev, Started):
            out.print(_header(ev), markup=False)
        elif isinstance(ev, PromptReplaced | ThreadsChanged):
            out.print(f"note: {ev.message}", markup=False)
        elif isinstance(ev, StepDone):
            now = time.monotonic()
            if now - last_print >= 10 or ev.step == 1:
                out.print(_step_line(ev, val, precision), markup=False)
                last_print = now
        elif isinstance(ev, EvalDone):
            val = ev.val_loss
            out.print(
                f"eval  step {ev.step:,}  val loss {ev.val_loss:.4f}  best {ev.best_val_loss:.4f}{'  (new best)' if ev.improved else ''}",
                markup=False,
            )
        elif isinstance(ev, SampleReady):
            out.print(f"--- sample at step {ev.step:,} (epoch {ev.epoch:.2f}), temperature {ev.temperature} ---", markup=False)
            out.print(printable(ev.prompt + ev.text), markup=False)
            out.print("---", markup=False)
        elif isinstance(ev, Finished):
            out.print(_summary(ev), markup=False)
            if _next_steps(ev):
                out.print(_next_steps(ev), markup=False)
            return ev
    raise AssertionError("the trainer ended without a Finished event")


# --- live display (a terminal) ------------------------------------------------------------


class _Status:
    """What the live display shows; updated per event, drawn at 4 Hz."""

    def __init__(self, precision: str) -> None:
        self.precision = precision
        self.step: StepDone | None = None
        self.val: float | None = None
        self.best: float | None = None
        self.saved = ""
        self.paused = False

    def __rich__(self) -> Table:
        s = self.step
        grid = Table.grid(padding=(0, 1))
        grid.add_column(width=32)
        grid.add_column()
        progress = s.progress if s else 0.0
        grid.add_row(
            ProgressBar(total=1.0, completed=progress, width=32),
            Text(
                f"{progress * 100:5.1f}%  elapsed {fmt_duration(s.elapsed if s else 0)}  ETA {fmt_duration(s.eta if s else None)}"
            ),
        )
        if s:
            stats = Text.assemble(
                ("step ", "dim"),
                (f"{s.step:,}", "bold"),
                ("  epoch ", "dim"),
                f"{s.epoch:.2f}",
                ("  loss ", "dim"),
                (f"{s.loss:.4f}", "bold cyan"),
                ("  val ", "dim"),
                (fmt_loss(self.val), "bold green"),
                ("  best ", "dim"),
                fmt_loss(self.best),
                ("  lr ", "dim"),
                f"{s.lr:.2e}",
                ("  ", ""),
                (fmt_rate(s.chars_per_s), "bold"),
                (f" chars/s ({self.precision})", "dim"),
            )
        else:
            stats = Text("preparing the first step...", style="dim")
        grid.add_row(Text(self.saved, style="dim"), stats)
        return grid


def _live(trainer: Trainer, events: Iterator[Event]) -> Finished:
    console = stdout_console()
    status = _Status(trainer.precision.name)
    with Live(status, console=console, refresh_per_second=4, transient=True) as live:
        for ev in events:
            if isinstance(ev, Started):
                live.console.print(_header(ev), markup=False, style="bold")
            elif isinstance(ev, PromptReplaced):
                live.console.print(f"note: {ev.message}", markup=False, style="yellow")
            elif isinstance(ev, ThreadsChanged):
                live.console.print(f"note: {ev.message}", markup=False, style="dim")
            elif isinstance(ev, StepDone):
                status.step = ev
            elif isinstance(ev, EvalDone):
                status.val, status.best = ev.val_loss, ev.best_val_loss
                live.console.print(
                    Text.assemble(
                        ("eval ", "dim"),
                        f"step {ev.step:,}  val loss ",
                        (f"{ev.val_loss:.4f}", "bold green"),
                        ("  new best" if ev.improved else "", "green"),
                    )
                )
            elif isinstance(ev, CheckpointSaved):
                status.saved = f"saved {ev.which} @ {ev.step:,}"
            elif isinstance(ev, SampleReady):
                live.console.print(
                    Panel(
                        Text(printable(ev.prompt + ev.text)),
                        title=f"sample at step {ev.step:,} (epoch {ev.epoch:.2f}, T={ev.temperature})",
                        title_align="left",
                        border_style="dim",
                    )
                )
            elif isinstance(ev, Finished):
                live.stop()
                console.print(_summary(ev), markup=False, style="bold" if ev.reason == "budget" else "yellow")
                if _next_steps(ev):
                    console.print(_next_steps(ev), markup=False, style="dim")
                return ev
    raise AssertionError("the trainer ended without a Finished event")
