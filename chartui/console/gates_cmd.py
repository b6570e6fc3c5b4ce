"""``chartui gates``: a passage coloured by one unit, a units x characters heatmap, and the
ranking of the units worth looking at."""

from __future__ import annotations

import argparse
import io
import sys
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.table import Table
from rich.text import Text

from chartui.console.render import coloured_text, print_json, stderr_console, stdout_console
from chartui.display import SHADES, glyph, printable, ramp_colour, shade, unescape
from chartui.engine.atomic import atomic_write, reason
from chartui.engine.corpus import read_text
from chartui.engine.gates import GateTrace, rank_units, trace
from chartui.engine.runs import open_replay
from chartui.errors import ConfigError, SaveError


def run(args: argparse.Namespace) -> int:
    for name in ("units", "rank"):
        if getattr(args, name) < 1:
            raise ConfigError(f"--{name} must be a whole number of at least 1 (got {getattr(args, name)})")
    text = _passage(args)
    loaded = open_replay(args.run, args.checkpoint)
    tr = trace(loaded.model, loaded.vocab, text)
    gate = args.gate or tr.default_gate
    values = tr.values(args.layer, gate)  # checks layer and gate
    ranking = rank_units(tr, layer=args.layer, gate=gate, top=args.rank)
    unit = ranking[0].unit if args.unit is None else args.unit
    if not 0 <= unit < tr.hidden:
        raise ConfigError(f"--unit must be between 0 and {tr.hidden - 1} for this model (got {unit})")
    if args.json:
        print_json({**tr.export(args.layer, gate, unit, ranking), "run": str(loaded.path.parent)})
        return 0
    lo, hi = tr.value_range(args.layer, gate, unit)
    diverging = lo < 0
    n_units = min(args.units, tr.hidden)
    if args.svg:
        # The coloured view, recorded at a fixed width and written as an SVG (any browser shows it).
        recorder = Console(record=True, width=120, file=io.StringIO(), force_terminal=True, color_system="truecolor")
        _render_rich(recorder, tr, args.layer, gate, unit, values, ranking, lo, hi, diverging, n_units)
        svg = recorder.export_svg(title=f"chartui gates: {Path(loaded.path).parent.name}, {gate} unit {unit}")
        try:
            atomic_write(Path(args.svg), svg.encode())
        except OSError as exc:
            raise SaveError(f"cannot write {args.svg}: {reason(exc)}") from None
        stderr_console().print(f"wrote {args.svg}")
    elif sys.stdout.isatty():
        _render_rich(stdout_console(), tr, args.layer, gate, unit, values, ranking, lo, hi, diverging, n_units)
    else:
        _render_plain(tr, args.layer, gate, unit, values, ranking, lo, hi, n_units)
    return 0


def _passage(args: argparse.Namespace) -> str:
    if args.text and args.text_file:
        raise ConfigError("give the passage with --text or --text-file, not both")
    if args.text_file:
        return read_text(args.text_file, "--text-file")
    if not args.text:
        raise ConfigError('give the passage to trace with --text "..." or --text-file FILE')
    return unescape(args.text)


def _why(r) -> str:
    if r.feature == "variance":
        return f"wide swings (variance {r.variance:.3f})"
    return f"{'follows' if r.correlation > 0 else 'opposes'} {r.feature} (r={r.correlation:+.2f})"


def _render_rich(
    console: Console, tr: GateTrace, layer: int, gate: str, unit: int, values, ranking, lo, hi, diverging, n_units
) -> None:
    why = next((_why(r) for r in ranking if r.unit == unit), "chosen with --unit")
    console.print(Text.assemble((f"{tr.arch} layer {layer}, {gate}, unit {unit}", "bold"), f": {why}"))
    console.print(coloured_text(tr.text, values[:, unit], lo, hi, diverging=diverging))
    legend = Text("scale ")
    for i in range(9):
        v = lo + (hi - lo) * (i + 0.5) / 9
        legend.append("  ", style=f"on {ramp_colour(v, lo, hi, diverging=diverging)}")
    legend.append(f"  {lo:+.2f} .. {hi:+.2f}")
    console.print(legend)
    console.print()
    console.print(Text(f"Units 0-{n_units - 1} x characters ({gate}, layer {layer})", style="bold"))
    label_w = len(str(n_units - 1)) + 2
    width = max(20, console.width - label_w - 1)
    shown = "".join(glyph(c, show_space=True) for c in tr.text)
    for start in range(0, len(tr.text), width):
        stop = min(start + width, len(tr.text))
        console.print(Text(" " * label_w + shown[start:stop], style="dim"))
        for u in range(n_units):
            row = Text(f"#{u}".rjust(label_w - 1) + " ", style="bold" if u == unit else "dim")
            for v in values[start:stop, u]:
                row.append(" ", style=f"on {ramp_colour(float(v), lo, hi, diverging=diverging)}")
            console.print(row)
    console.print()
    table = Table(title=f"Most interesting {gate} units (layer {layer})", title_justify="left")
    table.add_column("unit", justify="right")
    table.add_column("what it tracks")
    table.add_column("score", justify="right")
    for r in ranking:
        table.add_row(str(r.unit), _why(r), f"{r.score:.2f}")
    console.print(table)


def _render_plain(tr: GateTrace, layer: int, gate: str, unit: int, values, ranking, lo, hi, n_units) -> None:
    out = sys.stdout
    why = next((_why(r) for r in ranking if r.unit == unit), "chosen with --unit")
    out.write(f"{tr.arch} layer {layer}, {gate}, unit {unit}: {why}\n")
    out.write(f"each text line is followed by the unit's value per character, shaded {SHADES!r} from {lo:+.2f} to {hi:+.2f}\n\n")
    pos = 0
    for line in tr.text.split("\n"):
        seg = values[pos : pos + len(line) + 1, unit]
        out.write(printable(line) + glyph("\n") + "\n")
        out.write("".join(shade(float(v), lo, hi) for v in seg) + "\n")
        pos += len(line) + 1
    out.write(f"\nunits 0-{n_units - 1} x characters:\n")
    shown = "".join("~" if c == "\n" else "_" if c == " " else printable(c) for c in tr.text)
    width = 100
    for start in range(0, len(tr.text), width):
        out.write("     " + shown[start : start + width] + "\n")
        for u in range(n_units):
            out.write(f"#{u:<3} " + "".join(shade(float(v), lo, hi) for v in values[start : start + width, u]) + "\n")
    out.write(f"\nmost interesting {gate} units (layer {layer}):\n")
    for r in ranking:
        out.write(f"  unit {r.unit:>4}  {_why(r)}\n")
    mean = np.asarray(values).mean()
    out.write(f"\n{gate} mean {mean:.3f}, min {np.min(values):.3f}, max {np.max(values):.3f}\n")
