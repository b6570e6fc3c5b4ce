"""``chartui keys``: every key binding of the app, with the id a settings file remaps it by."""

from __future__ import annotations

import argparse

from rich.markup import escape
from rich.table import Table

from chartui.console.render import print_json, stdout_console
from chartui.settings import load_settings, settings_path


def run(args: argparse.Namespace) -> int:
    from chartui.ui.app import all_bindings

    keymap = load_settings().keymap
    rows = [
        {
            "id": b.id,
            "keys": keymap.get(b.id or "", b.key),
            "default": b.key,
            "description": b.description or b.action,
        }
        for b in all_bindings()
    ]
    if args.json:
        print_json({"settings": str(settings_path()), "bindings": rows})
        return 0
    table = Table(title=escape(f"Key bindings (remap them under [keymap] in {settings_path()})"), title_justify="left")
    for col in ("id", "keys", "what it does"):
        table.add_column(col)
    for r in rows:
        keys = r["keys"] if r["keys"] == r["default"] else f"{r['keys']} (default {r['default']})"
        table.add_row(r["id"], keys, r["description"])
    stdout_console().print(table)
    return 0
