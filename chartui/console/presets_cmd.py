"""``chartui presets``: the named presets in models/."""

from __future__ import annotations

import argparse

from rich.table import Table

from chartui.config import build_configs, list_presets
from chartui.console.render import print_json, stdout_console


def run(args: argparse.Namespace) -> int:
    presets = list_presets()
    if args.json:
        print_json([{"name": p.name, "description": p.description, "model": p.model, "train": p.train} for p in presets])
        return 0
    table = Table(title="Presets (models/*.toml)", title_justify="left")
    for col in ("name", "model", "training", "description"):
        table.add_column(col, overflow="fold")
    for p in presets:
        m, t = build_configs(p)
        budget = ", ".join(
            f"{k.replace('max_', '')} {v:g}"
            for k, v in (("epochs", t.epochs), ("max_steps", t.max_steps), ("max_seconds", t.max_seconds))
            if v
        )
        table.add_row(
            p.name,
            f"{m.label} (embed {m.embed})",
            f"{t.batching}, seq {t.seq_len}, batch {t.batch_size}, lr {t.lr:g}; {budget}",
            p.description,
        )
    stdout_console().print(table)
    return 0
