"""``chartui runs``: the runs under checkpoints/."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from rich.table import Table

from chartui.console.render import print_json, stdout_console
from chartui.display import fmt_duration, fmt_int, fmt_loss, fmt_rate
from chartui.engine.runs import list_runs
from chartui.paths import runs_dir


def run(args: argparse.Namespace) -> int:
    runs = list_runs()
    if args.json:
        print_json([r.to_dict() for r in runs])
        return 0
    console = stdout_console()
    if not runs:
        console.print(f"no runs in {runs_dir()} yet; start one with `chartui train` or in the app (`chartui`)", markup=False)
        return 0
    table = Table(title=f"Runs in {runs_dir()}", title_justify="left")
    for col in ("run", "model", "params", "corpus", "step", "val loss", "best", "chars/s", "trained", "status", "updated"):
        table.add_column(col, justify="right" if col in ("params", "step", "val loss", "best", "chars/s", "trained") else "left")
    for r in runs:
        info, p = r.info, r.progress
        name = str(r.path).removeprefix(str(runs_dir()) + "/")
        table.add_row(
            name,
            r.label,
            fmt_int(info.params["total"] if info else None),
            Path(info.corpus.name).name if info else "-",
            fmt_int(p.step),
            fmt_loss(p.val_loss),
            fmt_loss(p.best_val_loss),
            fmt_rate(p.chars_per_s),
            fmt_duration(p.elapsed),
            r.status,
            time.strftime("%Y-%m-%d %H:%M", time.localtime(r.updated)),
        )
    console.print(table)
    return 0
