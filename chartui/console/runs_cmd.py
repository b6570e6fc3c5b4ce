"""``chartui runs``: the runs under checkpoints/."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from rich.table import Table

from chartui.console.render import print_json, stdout_console
from chartui.display import fmt_bytes, fmt_duration, fmt_int, fmt_loss, fmt_rate
from chartui.engine.runs import delete_run, list_runs, rename_run, run_files
from chartui.errors import ConfigError
from chartui.paths import runs_dir


def run(args: argparse.Namespace) -> int:
    action = getattr(args, "runs_action", None)
    if action == "delete":
        return _delete(args)
    if action == "rename":
        target = rename_run(args.run, args.new)
        if args.json:
            print_json({"renamed": args.run, "to": str(target)})
        else:
            stdout_console().print(f"renamed to {target}", markup=False)
        return 0
    runs = list_runs()
    if args.json:
        print_json([r.to_dict() for r in runs])
        return 0
    console = stdout_console()
    if not runs:
        console.print(f"no runs in {runs_dir()} yet; start one with `chartui train` or in the app (`chartui`)", markup=False)
        return 0
    if console.width < 80:  # a table this narrow would squeeze every cell empty: a line per run instead
        for r in runs:
            console.print(f"{r.name}  {r.label}  best {fmt_loss(r.progress.best_val_loss)}  {r.status}", markup=False)
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


def _delete(args: argparse.Namespace) -> int:
    # Check every run first: one bad name refuses the whole command before anything is deleted.
    plans = [run_files(spec) for spec in args.runs]
    if not args.yes:
        if not sys.stdin.isatty():
            raise ConfigError("chartui runs delete asks before deleting; add --yes to delete without asking")
        for r, ours, theirs in plans:
            size = sum(p.stat().st_size for p in ours)
            kept = f"; {len(theirs)} other file(s) stay" if theirs else ""
            sys.stderr.write(f"{r.path}: {len(ours)} file(s), {fmt_bytes(size)}{kept}\n")
        sys.stderr.write(f"delete {len(plans)} run(s)? [y/N] ")
        sys.stderr.flush()
        try:
            answer = input()
        except EOFError:  # Ctrl-D: no
            answer = ""
        if answer.strip().lower() not in ("y", "yes"):
            sys.stderr.write("nothing deleted\n")
            return 1
    done = []
    for spec in args.runs:
        path, kept = delete_run(spec)
        done.append({"run": str(path), "kept": [str(p) for p in kept]})
    if args.json:
        print_json({"deleted": done})
        return 0
    console = stdout_console()
    for d in done:
        extra = f" (kept {len(d['kept'])} file(s) chartui did not write)" if d["kept"] else ""
        console.print(f"deleted {d['run']}{extra}", markup=False)
    return 0
