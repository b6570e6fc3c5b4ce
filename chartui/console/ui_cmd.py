"""``chartui`` / ``chartui ui [RUN]``: the terminal app."""

from __future__ import annotations

import argparse
import os
import sys

from chartui.config import DEFAULT_PRESET, load_preset
from chartui.console.render import stderr_console
from chartui.engine.runs import Run
from chartui.errors import ChartuiError
from chartui.settings import load_settings


def run(args: argparse.Namespace) -> int:
    # Check what was asked for before the screen switches, so errors stay one line.
    opened = Run.open(args.run) if args.run else None
    settings = load_settings()
    if args.preset or settings.preset:
        load_preset(args.preset or settings.preset)
    # textual-serve (chartui serve) runs the app with pipes for stdin/stdout and Textual's web
    # driver, which draws in the browser: no terminal is needed then.
    web = "web_driver" in os.environ.get("TEXTUAL_DRIVER", "")
    if not web and not (sys.stdin.isatty() and sys.stdout.isatty()):
        raise ChartuiError(
            "the app needs an interactive terminal; in scripts and pipes use the headless commands (chartui train, sample, eval, gates; see chartui --help)"
        )
    if not web and os.environ.get("TERM", "") in ("dumb", "unknown"):
        raise ChartuiError(
            "the app needs a terminal that can move the cursor, and TERM=dumb says this one cannot; "
            "run it in a terminal emulator or tmux (TERM=xterm-256color), or use the headless commands"
        )
    from chartui import memory

    memory.limit_arenas()  # before any thread exists (Textual's, the workers'): frees are then reused across threads
    from chartui.ui.app import ChartuiApp

    app = ChartuiApp(
        run=opened.path if opened else None,
        corpus=args.corpus or settings.corpus or "shakespeare",
        preset=args.preset or settings.preset or DEFAULT_PRESET,
        settings=settings,
        settle_heap=True,
    )
    try:
        app.run()
    finally:
        if not app.shutdown(timeout=0.5):
            # The screen is gone and the trainer is still finishing a step or a score before it
            # saves (seconds, up to a minute on a busy machine): say so rather than sit blank.
            try:
                stderr_console().print("chartui: saving a resumable checkpoint before leaving...", style="yellow")
            except (OSError, ValueError):  # no terminal left (SIGHUP) or stderr closed
                pass
            app.shutdown()
    return app.return_code or 0
