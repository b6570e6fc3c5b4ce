"""``chartui train``: the trainer's events as a live display, plain lines, or JSON lines.

Ctrl-C (SIGINT), SIGTERM and SIGHUP ask the trainer to stop after the current step; it
saves a resumable checkpoint and the process exits (status 130). A second Ctrl-C exits at
once, keeping the last periodic checkpoint (at most ``--checkpoint-seconds`` old).
"""

from __future__ import annotations

import argparse
import signal
import time

from rich.live import Live
from rich.panel import Panel
from rich.progress_bar import ProgressBar
from rich.table import Table
from rich.text import Text

from chartui.config import DEFAULT_PRESET, build_configs, load_preset, overrides_from
from chartui.console.render import is_tty, print_json, stderr_console, stdout_console
from chartui.console.signals import stop_on_signals
from chartui.display import finished_word, fmt_duration, fmt_loss, fmt_rate, params_line, printable
from chartui.engine.events import CheckpointSaved, EvalDone, Finished, SampleReady, Started, StepDone
from chartui.engine.train import Trainer
from chartui.errors import ConfigError

EXIT = {"budget": 0, "stopped": 130, "diverged": 1, "error": 1}


def run(args: argparse.Namespace) -> int:
    overrides = overrides_from(args)
    if args.resume:
        if args.preset or args.run:
            raise ConfigError(
                "--resume continues a run as it was trained; drop --preset and --run (budget and rate flags may change)"
            )
        trainer = Trainer.resume(args.resume, overrides)
    else:
        preset = load_preset(args.preset or DEFAULT_PRESET)
        model_config, train_config = build_configs(preset, overrides)
        trainer = Trainer.new(model_config, train_config, run=args.run, preset=preset.name)
    with stop_on_signals(trainer) as signals:
        if args.json:
            finished = _json(trainer)
        elif is_tty():
            finished = _live(trainer)
        else:
            finished = _plain(trainer)
    if finished.reason in ("diverged", "error"):
        stderr_console().print(f"chartui: error: {finished.message}", markup=False)
    code = EXIT.get(finished.reason, 1)
    return 143 if code == 130 and signals.get("last") == signal.SIGTERM else code


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
        f"with {ev.device} in {ev.precision}, {info.train.batching} batches, {ev.steps_per_epoch:,} steps/epoch\nrun: {ev.run}"
    )


# --- JSON lines ---------------------------------------------------------------------------


def _json(trainer: Trainer) -> Finished:
    every = trainer.config.metrics_every
    last_step: StepDone | None = None
    for ev in trainer:
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


def _plain(trainer: Trainer) -> Finished:
    out = stdout_console()
    val: float | None = None
    last_print = 0.0
    precision = trainer.precision.name
    for ev in trainer:
        if isinstance(ev, Started):
            out.print(_header(ev), markup=False)
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


def _live(trainer: Trainer) -> Finished:
    console = stdout_console()
    status = _Status(trainer.precision.name)
    with Live(status, console=console, refresh_per_second=4, transient=True) as live:
        for ev in trainer:
            if isinstance(ev, Started):
                live.console.print(_header(ev), markup=False, style="bold")
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
