"""Presentation helpers shared by the command line and the app: safe text, numbers, bars,
colour ramps. Pure Python (no Rich, no Textual, no torch).

Text that came from a corpus or a model passes through ``printable`` before it reaches a
terminal, so a hostile file cannot drive the terminal with escape sequences.
"""

from __future__ import annotations

import math

_CONTROL = {c: chr(0x2400 + c) for c in range(32) if c not in (9, 10)}
_CONTROL[0x7F] = "\u2421"
_CONTROL.update({c: "\ufffd" for c in range(0x80, 0xA0)})


def printable(text: str) -> str:
    """``text`` with control characters (other than newline and tab) shown as symbols."""
    return text.translate(_CONTROL)


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


SHADES = " .:-=+*#%@"  # plain-text shading, low .. high


def shade(value: float, lo: float, hi: float) -> str:
    """One character of ``SHADES`` for ``value`` on the scale [lo, hi] (no colour needed)."""
    t = 0.5 if hi <= lo else (value - lo) / (hi - lo)
    return SHADES[min(max(int(t * len(SHADES)), 0), len(SHADES) - 1)]


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
