"""Shared pieces of the headless output: consoles, safe text, numbers, bars and colours.

Rich on a terminal (it honours NO_COLOR and picks 256 colours when truecolor is absent),
plain text when stdout is a pipe or a file, JSON when asked. Text that came from a corpus or
a model passes through ``printable`` first, so a hostile file cannot drive the terminal with
escape sequences.
"""

from __future__ import annotations

import json
import math
import sys
from typing import Any

from rich.console import Console
from rich.text import Text

WHITESPACE_STYLE = "bold dark_orange"
BAR_STYLE = "dodger_blue2"

_CONTROL = {c: chr(0x2400 + c) for c in range(32) if c not in (9, 10)}
_CONTROL[0x7F] = "\u2421"
_CONTROL.update({c: "\ufffd" for c in range(0x80, 0xA0)})


def printable(text: str) -> str:
    """``text`` with control characters (other than newline and tab) shown as symbols."""
    return text.translate(_CONTROL)


def stdout_console() -> Console:
    # Piped output is read by people in log files and by tools: do not squeeze tables to 80.
    return Console(highlight=False, soft_wrap=True, width=None if sys.stdout.isatty() else 160)


def stderr_console() -> Console:
    return Console(stderr=True, highlight=False, soft_wrap=True)


def is_tty() -> bool:
    return sys.stdout.isatty()


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


def fmt_int(n: int | None) -> str:
    return "-" if n is None else f"{n:,}"


def fmt_loss(x: float | None) -> str:
    return "-" if x is None or not math.isfinite(x) else f"{x:.4f}"


def fmt_rate(x: float | None) -> str:
    if x is None or x <= 0:
        return "-"
    return f"{x / 1000:,.1f}k" if x >= 1000 else f"{x:,.0f}"


def fmt_duration(seconds: float | None) -> str:
    if seconds is None or not math.isfinite(seconds):
        return "--:--"
    seconds = int(round(seconds))
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


def bar(fraction: float, width: int, *, ascii_only: bool = False) -> str:
    """A horizontal bar ``width`` cells wide at most, in eighths of a cell."""
    fraction = min(max(fraction, 0.0), 1.0)
    if ascii_only:
        return "#" * round(fraction * width)
    eighths = round(fraction * width * 8)
    full, part = divmod(eighths, 8)
    return "\u2588" * full + ("" if part == 0 else chr(0x2590 - part))


# Colour ramps for activations, in 256-colour-safe hex (Rich downgrades them when needed).
# Diverging for [-1, 1] values (blue - white - red); sequential for [0, 1] (dark - green - yellow).
DIVERGING = ["#2166ac", "#4393c3", "#92c5de", "#d1e5f0", "#f7f7f7", "#fddbc7", "#f4a582", "#d6604d", "#b2182b"]
SEQUENTIAL = ["#1b1b3a", "#27386b", "#245f8c", "#1f878f", "#2aa678", "#70c04f", "#b9d335", "#f2e32b", "#fff7a8"]


def ramp_colour(value: float, lo: float, hi: float, *, diverging: bool) -> str:
    """The ramp colour (16-ish buckets) for ``value`` on the scale [lo, hi]."""
    ramp = DIVERGING if diverging else SEQUENTIAL
    t = 0.5 if hi <= lo else (value - lo) / (hi - lo)
    t = min(max(t, 0.0), 1.0)
    return ramp[min(int(t * len(ramp)), len(ramp) - 1)]


def readable_on(colour: str) -> str:
    """Black or white text, whichever reads better on ``colour`` (a #rrggbb string)."""
    r, g, b = (int(colour[i : i + 2], 16) for i in (1, 3, 5))
    return "black" if 0.299 * r + 0.587 * g + 0.114 * b > 140 else "white"


def coloured_text(text: str, values, lo: float, hi: float, *, diverging: bool) -> Text:
    """``text`` with each character's background set by its value; newlines shown as ↵."""
    out = Text()
    for ch, v in zip(text, values):
        colour = ramp_colour(float(v), lo, hi, diverging=diverging)
        shown = "\u21b5\n" if ch == "\n" else printable(ch)
        out.append(shown, style=f"{readable_on(colour)} on {colour}")
    return out


def probability_text(chars: str, probs) -> Text:
    """Generated text coloured by the probability the model gave each character."""
    out = Text()
    for ch, p in zip(chars, probs):
        colour = ramp_colour(float(p), 0.0, 1.0, diverging=False)
        out.append(printable(ch), style=colour)
    return out
