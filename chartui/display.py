"""Presentation helpers shared by the command line and the app: safe text, numbers, labels,
glyphs, bars and colour ramps, so the two front ends say each thing the same way. Pure Python
(no Rich, no Textual, no torch; numpy only inside ``buckets``).

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


NEWLINE = "\u21b5"  # ↵: a newline shown inside a line of text
SPACE = "\u2423"  # ␣: a space where it must be seen (the heatmap's header)


def show_char(ch: str) -> str:
    """A visible label for one character: SP, \\n, \\t, U+0000 style for other controls."""
    named = {" ": "SP", "\n": "\\n", "\t": "\\t", "\r": "\\r"}
    if ch in named:
        return named[ch]
    if ord(ch) < 32 or 0x7F <= ord(ch) < 0xA0 or ch.isspace():
        return f"U+{ord(ch):04X}"
    return ch


def charset_line(chars: str) -> str:
    """A vocabulary on one line, whitespace and control characters named (SP, \\n, U+0000)."""
    return "".join(show_char(c) if c.isspace() or not c.isprintable() else c for c in chars)


def glyph(ch: str, *, show_space: bool = False) -> str:
    """One character as a single visible cell: newline as ↵ (and space as ␣ if asked)."""
    if ch == "\n":
        return NEWLINE
    if ch == " " and show_space:
        return SPACE
    return printable(ch)


FINISHED = {"budget": "finished", "stopped": "stopped (resumable)", "diverged": "diverged", "error": "failed"}
"""How a run's ending (Finished.reason) is said."""


def finished_word(reason: str | None) -> str:
    return FINISHED.get(reason or "", str(reason))


def params_parts(params: dict[str, int]) -> tuple[str, str]:
    """(``93,409 params``, ``embedding 2,080, recurrent 83,968, head 8,385``)."""
    return (
        f"{params['total']:,} params",
        f"embedding {params['embedding']:,}, recurrent {params['recurrent']:,}, head {params['head']:,}",
    )


def params_line(params: dict[str, int]) -> str:
    """``93,409 params (embedding 2,080, recurrent 83,968, head 8,385)``."""
    total, parts = params_parts(params)
    return f"{total} ({parts})"


_ESCAPES = {"n": "\n", "t": "\t", "\\": "\\"}


def unescape(typed: str) -> str:
    """A prompt or passage as typed on a command line or in the app: ``\\n`` is a newline,
    ``\\t`` a tab, ``\\\\`` one backslash; any other backslash stays as it is."""
    out, i = [], 0
    while i < len(typed):
        if typed[i] == "\\" and i + 1 < len(typed) and typed[i + 1] in _ESCAPES:
            out.append(_ESCAPES[typed[i + 1]])
            i += 2
        else:
            out.append(typed[i])
            i += 1
    return "".join(out)


def escape(text: str) -> str:
    """The inverse of ``unescape``: how to type ``text`` on one line."""
    return text.replace("\\", "\\\\").replace("\n", "\\n").replace("\t", "\\t")


def fmt_int(n: int | None) -> str:
    return "-" if n is None else f"{n:,}"


def fmt_loss(x: float | None) -> str:
    return "-" if x is None or not math.isfinite(x) else f"{x:.4f}"


def fmt_rate(x: float | None) -> str:
    if x is None or x <= 0:
        return "-"
    return f"{x / 1000:,.1f}k" if x >= 1000 else f"{x:,.0f}"


def fmt_bytes(n: int) -> str:
    """``1.2 MB``: decimal units, one decimal place from kB up."""
    for unit, size in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n >= size:
            return f"{n / size:,.1f} {unit}"
    return f"{n} B"


def fmt_duration(seconds: float | None) -> str:
    if seconds is None or not math.isfinite(seconds):
        return "--:--"
    seconds = round(seconds)
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


def ramp(diverging: bool) -> list[str]:
    """The colour ramp for values on a signed scale (diverging) or a [0, x] one (sequential)."""
    return DIVERGING if diverging else SEQUENTIAL


def buckets(values, lo: float, hi: float, n: int):
    """The bucket 0..n-1 of each value on the scale [lo, hi] (the middle one for an empty
    scale): how every view quantises values into a ramp's colours."""
    import numpy as np

    values = np.asarray(values, dtype=np.float64)
    if hi <= lo:
        return np.full(values.shape, n // 2, dtype=int)
    return np.clip(((values - lo) / (hi - lo) * n).astype(int), 0, n - 1)


def ramp_colour(value: float, lo: float, hi: float, *, diverging: bool) -> str:
    """The ramp colour for one ``value`` on the scale [lo, hi]."""
    colours = ramp(diverging)
    return colours[int(buckets(value, lo, hi, len(colours)))]


def readable_on(colour: str) -> str:
    """Black or white text, whichever reads better on ``colour`` (a #rrggbb string)."""
    r, g, b = (int(colour[i : i + 2], 16) for i in (1, 3, 5))
    return "black" if 0.299 * r + 0.587 * g + 0.114 * b > 140 else "white"
