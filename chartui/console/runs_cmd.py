"""``chartui runs``: the runs under checkpoints/."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from rich.table import Table

from chartui.console.render import print_json, stdout_console
from chartui.display import fmt_duration, fmt_int, fmt_loss, fmt_rate
from chartui.engine.checkpoint import list_runs
from chartui.paths import runs_dir


def run(args: argparse.Namespace) -> int:
    runs = list_runs()
    if args.json:
        print_json(runs)
        return 0
    console = stdout_console()
    if not runs:
        console.print(f"no runs in {runs_dir()} yet; start one with `chartui train` or in the app (`chartui`)", markup=False)
        return 0
    table = Table(title=f"Runs in {runs_dir()}", title_justify="left")
    for col in ("run", "arch", "params", "corpus", "step", "val loss", "best", "chars/s", "trained", "status", "updated"):
        table.add_column(col, justify="right" if col in ("params", "step", "val loss", "best", "chars/s", "trained") else "left")
    for r in runs:
        name = r["run"].removeprefix(str(runs_dir()) + "/")
        table.add_row(name, f"{r['arch']} {r['layers']}x{r['hidden']}" if r["arch"] else "-", fmt_int(r["params"]), Path(str(r["corpus"] or "-")).name,
                      fmt_int(r["step"]), fmt_loss(r["val_loss"]), fmt_loss(r["best_val_loss"]), fmt_rate(r["chars_per_s"]),
                      fmt_duration(r["elapsed"]), r["status"], time.strftime("%Y-%m-%d %H:%M", time.localtime(r["updated"])))
    console.print(table)
    return 0
