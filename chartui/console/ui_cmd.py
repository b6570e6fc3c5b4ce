"""``chartui`` / ``chartui ui [RUN]``: the terminal app."""

from __future__ import annotations

import argparse

from chartui.config import DEFAULT_PRESET, load_preset
from chartui.engine.checkpoint import resolve_run


def run(args: argparse.Namespace) -> int:
    # Check what was asked for before the screen switches, so errors stay one line.
    if args.run:
        resolve_run(args.run)
    if args.preset:
        load_preset(args.preset)
    from chartui.ui.app import ChartuiApp

    app = ChartuiApp(run=args.run, corpus=args.corpus or "shakespeare", preset=args.preset or DEFAULT_PRESET)
    try:
        app.run()
    finally:
        app.shutdown()
    return app.return_code or 0
