"""``chartui compare``: train each architecture with the same budget and print the chapter's table."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from rich.columns import Columns
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from chartui.config import load_preset, overrides_from
from chartui.console.render import is_tty, print_json, stderr_console, stdout_console
from chartui.console.signals import stop_on_signals
from chartui.display import fmt_int, fmt_loss, fmt_rate, printable, unescape
from chartui.engine.compare import Comparison, parse_archs
from chartui.engine.events import EvalDone, Finished, Started, StepDone
from chartui.engine.precision import configs_for_machine


def run(args: argparse.Namespace) -> int:
    archs = parse_archs(args.archs)
    overrides = overrides_from(args)
    preset = load_preset(args.preset)
    model_config, train_config = configs_for_machine(preset, overrides)
    comparison = Comparison(
        archs,
        model_config,
        train_config,
        root=Path(args.run) if args.run else None,
        prompt=None if args.prompt is None else unescape(args.prompt),
        preset=preset.name,
    )
    log = stderr_console()
    if comparison.note:
        log.print(f"note: {comparison.note}", markup=False)
    last = 0.0
    # Ctrl-C stops the architecture in training (it saves a checkpoint); the comparison ends there.
    with stop_on_signals(comparison):
        for arch, ev in comparison:
            if isinstance(ev, Started):
                if not args.json:
                    log.print(
                        f"[{arch}] training {ev.info.params['total']:,} params for the shared budget; run {ev.run}", markup=False
                    )
            elif isinstance(ev, StepDone) and not args.json and time.monotonic() - last > 5:
                last = time.monotonic()
                log.print(
                    f"[{arch}] step {ev.step:,}  loss {ev.loss:.4f}  {fmt_rate(ev.chars_per_s)} chars/s  {ev.progress * 100:.0f}%",
                    markup=False,
                )
            elif isinstance(ev, EvalDone) and not args.json:
                log.print(f"[{arch}] eval step {ev.step:,}  val loss {ev.val_loss:.4f}", markup=False)
            elif isinstance(ev, Finished) and not args.json:
                log.print(
                    f"[{arch}] {ev.reason}: val loss {fmt_loss(ev.val_loss)}" + (f"; {ev.message}" if ev.message else ""),
                    markup=False,
                )
    results = comparison.results
    if args.json:
        print_json(
            {
                "archs": archs,
                "root": str(comparison.root),
                "prompt": comparison.prompt,
                "budget": {
                    "epochs": train_config.epochs,
                    "max_steps": train_config.max_steps,
                    "max_seconds": train_config.max_seconds,
                },
                "seed": train_config.seed,
                "corpus": comparison.corpus.name,
                "results": results,
            }
        )
    else:
        _render(results, comparison, plain=not is_tty())
    if any(r["reason"] in ("diverged", "error") for r in results):
        return 1
    return 130 if comparison.stopping else 0


def _render(results: list[dict], comparison: Comparison, *, plain: bool) -> None:
    console = stdout_console()
    table = Table(
        title=f"Architecture comparison on {comparison.corpus.name} (same budget, seed {comparison.train_config.seed})",
        title_justify="left",
    )
    for col, justify in (
        ("architecture", "left"),
        ("parameters", "right"),
        ("train loss", "right"),
        ("val loss", "right"),
        ("perplexity", "right"),
        ("chars/s", "right"),
        ("steps", "right"),
    ):
        table.add_column(col, justify=justify)
    best = min((r["val_loss"] for r in results if r["val_loss"] is not None), default=None)
    for r in results:
        style = "bold green" if r["val_loss"] is not None and r["val_loss"] == best else ""
        table.add_row(
            r["arch"].upper(),
            fmt_int(r["params"]),
            fmt_loss(r["train_loss"]),
            Text(fmt_loss(r["val_loss"]), style=style),
            "-" if r["perplexity"] is None else f"{r['perplexity']:.3f}",
            fmt_rate(r["chars_per_s"]),
            fmt_int(r["steps"]),
        )
    console.print(table)
    console.print(
        f"Samples from the prompt {comparison.prompt!r}, temperature {comparison.temperature}, seed {comparison.train_config.seed}:",
        markup=False,
    )
    panels = [
        Panel(
            Text(printable(comparison.prompt + r["sample"])),
            title=r["arch"].upper(),
            width=max(30, (console.width - 2) // max(len(results), 1)),
        )
        for r in results
    ]
    if plain:
        for r in results:
            console.print(f"--- {r['arch'].upper()} ---\n{printable(comparison.prompt + r['sample'])}", markup=False)
    else:
        console.print(Columns(panels))
    console.print(f"runs: {comparison.root}", markup=False, style="dim")
