"""A loss chart (textual-plotext): train and validation loss against steps or characters.

Plotting cost grows with points and runs on the UI thread, so every series is cut down to
about twice the plot's width before drawing, and callers redraw it at a few hertz. The cut
keeps each bucket's lowest and highest point (not its mean), so a spike or a divergence stays
on screen however long the run. Optional EMA smoothing (as TensorBoard's slider does) and a
log scale (log10 of the loss on a linear axis: plotext's own log axes fail on redraw).
"""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Sequence
from functools import lru_cache

import numpy as np
from plotext._dict import themes as plotext_themes  # (as textual-plotext reads it)
from rich.ansi import AnsiDecoder
from rich.segment import Segment
from rich.style import Style
from textual.geometry import Region
from textual.strip import Strip
from textual_plotext import PlotextPlot

from chartui.ui.widgets.strips import over, plain

COLOURS = ["cyan", "orange", "green", "magenta", "yellow", "blue", "red", "white"]
SMOOTHING = ("none", "ema")
EMA_WEIGHT = 0.9  # each point keeps this much of the running average


def downsample(xs: Sequence[float], ys: Sequence[float], n: int) -> tuple[list[float], list[float]]:
    """At most ``n`` points: for each of ``n // 2`` equal runs of the input, its lowest and its
    highest point, in the order they came (extremes survive, so spikes stay visible)."""
    if len(xs) <= n or n < 2:
        return list(xs), list(ys)
    x, y = np.asarray(xs, dtype=np.float64), np.asarray(ys, dtype=np.float64)
    buckets = n // 2
    edges = np.linspace(0, len(x), buckets + 1).astype(np.int64)
    keep: list[int] = []
    for a, b in itertools.pairwise(edges):
        if b <= a:
            continue
        seg = y[a:b]
        if np.all(np.isnan(seg)):
            keep.append(int(a))
            continue
        keep.extend(sorted({int(a + np.nanargmin(seg)), int(a + np.nanargmax(seg))}))
    idx = np.asarray(keep)
    return x[idx].tolist(), y[idx].tolist()


SGR = re.compile(r"\x1b\[([0-9;]*)m")
"""The one escape sequence plotext writes: Select Graphic Rendition (colours, bold, reset)."""


@lru_cache(maxsize=256)
def after_sgr(style: Style, params: str) -> Style:
    """``style`` once the SGR sequence with ``params`` has been applied, exactly as Rich reads it
    (a plot uses a dozen distinct sequences: each is decoded once)."""
    decoder = AnsiDecoder()
    decoder.style = style
    decoder.decode_line(f"\x1b[{params}m")
    return decoder.style


def ansi_lines(ansi: str, width: int) -> list[list[Segment]]:
    """Terminal text with SGR colours as lines of segments, each ``width`` cells. What
    ``Text.from_ansi`` gives, without a Text to render afterwards: the two took 9 of the
    16 ms a redrawn plot cost (Xeon 2.8 GHz, 120x22)."""
    lines = []
    style = Style.null()
    for line in ansi.split("\n"):
        segments, at = [], 0
        for match in SGR.finditer(line):
            if match.start() > at:
                segments.append(Segment(line[at : match.start()], style or None))
            style, at = after_sgr(style, match.group(1)), match.end()
        if at < len(line):
            segments.append(Segment(line[at:], style or None))
        lines.append(list(Segment.adjust_line_length(segments, width)))
    return lines


def ema(ys: Sequence[float], weight: float = EMA_WEIGHT) -> list[float]:
    """Exponential moving average with the start-up bias removed (TensorBoard's smoothing)."""
    out, avg, norm = [], 0.0, 0.0
    for y in ys:
        if not math.isfinite(y):
            out.append(y)
            continue
        avg = weight * avg + (1 - weight) * y
        norm = weight * norm + (1 - weight)
        out.append(avg / norm)
    return out


class LossChart(PlotextPlot):
    """Loss curves; ``set_lines`` replaces them, then the widget redraws once."""

    def __init__(self, *, title: str = "loss", **kwargs) -> None:
        super().__init__(**kwargs)
        self.title = title
        self.xlabel = "step"
        self.smoothing = "none"
        """``none`` or ``ema``: applied to the first line (the noisy train loss) only."""
        self.log_scale = False
        self._raw: list[tuple[str, Sequence[float], Sequence[float]]] = []
        self._markers: Sequence[str] | None = None
        self._lines: list[tuple[str, list[float], list[float], str, str]] = []
        self._cut_width: int | None = None
        """The width the lines were last cut down for."""
        self._version = 0
        """Counts the times the lines were prepared: part of what the built plot depends on."""
        self._built: tuple[tuple, list[list[Segment]]] | None = None
        """(what it depended on, the plot) as last built."""
        self._strips: tuple[list[list[Segment]], Style, list[Strip]] | None = None
        """(the plot's lines, the widget's style, the strips drawn from the two)."""

    def set_lines(
        self,
        lines: list[tuple[str, Sequence[float], Sequence[float]]],
        *,
        xlabel: str = "step",
        markers: Sequence[str] | None = None,
    ) -> None:
        """``lines``: (label, x, y) per curve. Smoothed and cut down to the widget's width here."""
        self._raw, self._markers, self.xlabel = lines, markers, xlabel
        self._prepare()

    def set_view(self, *, smoothing: str | None = None, log_scale: bool | None = None) -> None:
        """Change how the same lines are shown, and redraw."""
        if smoothing is not None:
            self.smoothing = smoothing
        if log_scale is not None:
            self.log_scale = log_scale
        self._prepare()

    def on_resize(self) -> None:
        # The lines were cut down to the old width; a chart first drawn while hidden had none.
        # Textual also sends a Resize each time a tab switch shows the chart, at the same size.
        if self._raw and self.size.width != self._cut_width:
            self._prepare()

    def _prepare(self) -> None:
        n = max(2 * max(self.size.width, 40), 40)
        self._cut_width, self._version = self.size.width, self._version + 1
        self._lines = []
        for i, (label, xs, ys) in enumerate(self._raw):
            values = list(ys)
            if self.smoothing == "ema" and i == 0:
                values = ema(values)
            if self.log_scale:
                values = [math.log10(v) if v > 0 else float("nan") for v in values]
            dx, dy = downsample(xs, values, n)
            marker = self._markers[i] if self._markers else "braille"
            self._lines.append((label, dx, dy, COLOURS[i % len(COLOURS)], marker))
        self.refresh()

    def _plot_lines(self) -> list[list[Segment]]:
        # Building a plot is the costliest drawing the app does (15-25 ms at 120x22): Textual
        # draws a widget again after a tab switch or a focus change with nothing new to plot.
        # A new app theme is given to plotext a moment after the app has it (PlotextPlot
        # registers it on the theme's signal, then refreshes): a plot built in between has
        # plotext's default colours, and must not be kept once the theme is registered.
        theme = self._get_plotext_theme_name(self.app.theme)
        key = (self._version, self.size, self.title, self.xlabel, self.theme, theme, theme in plotext_themes)
        if self._built is None or self._built[0] != key:
            self._built = (key, self._build(theme))
        return self._built[1]

    def render_lines(self, crop: Region) -> list[Strip]:
        # the plot's lines as strips over the widget's own style, made once per plot and style
        lines, base = self._plot_lines(), self.rich_style
        if self._strips is None or self._strips[0] is not lines or self._strips[1] != base:
            width = self.size.width
            strips = [Strip(over(base, ((s.text, s.style) for s in line)), width) for line in lines]
            self._strips = (lines, base, strips)
        return super().render_lines(crop)

    def render_line(self, y: int) -> Strip:
        assert self._strips is not None  # (render_lines made them)
        strips = self._strips[2]
        return strips[y] if y < len(strips) else Strip.blank(self.size.width, self._strips[1])

    @property
    def plain(self) -> str:
        """The plot as shown, without its colours (for tests and tools)."""
        return plain([(s.text, s.style) for s in line] for line in self._plot_lines())

    def _build(self, theme: str) -> list[list[Segment]]:
        plt = self.plt
        plt.clear_data()
        plt.clear_figure()
        view = [w for w, on in (("EMA", self.smoothing == "ema"), ("log10", self.log_scale)) if on]
        plt.title(self.title + (f" ({', '.join(view)})" if view else ""))
        plt.xlabel(self.xlabel)
        drawn = False
        for label, xs, ys, colour, marker in self._lines:
            if xs:
                plt.plot(xs, ys, label=label, color=colour, marker=marker)
                drawn = True
        if not drawn:
            plt.title(f"{self.title} (no data yet)")
        # as PlotextPlot.render sets the plot up, then the plot's own text, decoded here
        width, height = self.size
        plt.plotsize(width, height)
        plt._set_size(width, height)
        plt.theme(theme)
        return ansi_lines(plt.build(), width)
