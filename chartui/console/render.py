"""Shared pieces of the headless output: consoles, safe text, numbers, bars and colours.

Rich on a terminal (it honours NO_COLOR and picks 256 colours when truecolor is absent),
plain text when stdout is a pipe or a file, JSON when asked. Text that came from a corpus or
a model passes through ``printable`` first, so a hostile file cannot drive the terminal with
escape sequences.
"""

from __future__ import annotations

import json
import math
import os
import sys
from typing import Any

from rich.console import Console
from rich.text import Text

from chartui.display import glyph, printable, ramp_colour, readable_on

WHITESPACE_STYLE = "bold dark_orange"
BAR_STYLE = "dodger_blue2"


def stdout_console() -> Console:
    # Piped output is read by people in log files and by tools: do not squeeze tables to 80.
    return Console(highlight=False, soft_wrap=True, width=None if sys.stdout.isatty() else 160)


def stderr_console() -> Console:
    return Console(stderr=True, highlight=False, soft_wrap=True)


def is_tty() -> bool:
    return sys.stdout.isatty()


def silence_stdout() -> None:
    """Point stdout at /dev/null once its reader has gone (a closed pipe, a full disk), so
    Python's flush at exit cannot fail a second time."""
    try:
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - lives until exit
    except OSError:
        pass


def print_json(obj: Any) -> None:
    """One JSON document on stdout (NaN/inf become null, keeping the output valid JSON)."""
    sys.stdout.write(json.dumps(_finite(obj), ensure_ascii=False) + "\n")
    sys.stdout.flush()


def _finite(obj: Any) -> Any:
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_finite(v) for v in obj]
    return obj


def coloured_text(text: str, values, lo: float, hi: float, *, diverging: bool) -> Text:
    """``text`` with each character's background set by its value; newlines shown as ↵."""
    out = Text()
    for ch, v in zip(text, values):
        colour = ramp_colour(float(v), lo, hi, diverging=diverging)
        shown = glyph(ch) + ("\n" if ch == "\n" else "")
        out.append(shown, style=f"{readable_on(colour)} on {colour}")
    return out


def probability_text(chars: str, probs) -> Text:
    """Generated text coloured by the probability the model gave each character."""
    out = Text()
    for ch, p in zip(chars, probs):
        colour = ramp_colour(float(p), 0.0, 1.0, diverging=False)
        out.append(printable(ch), style=colour)
    return out
