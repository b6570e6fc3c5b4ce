"""A loss chart (textual-plotext): train and validation loss against steps or characters.

Plotting cost grows with points and runs on the UI thread, so every series is downsampled
to about twice the plot's width before drawing, and callers redraw it at a few hertz.
"""

from __future__ import annotations

from collections.abc import Sequence

from textual_plotext import PlotextPlot

COLOURS = ["cyan", "orange", "green", "magenta", "yellow", "blue", "red", "white"]


def downsample(xs: Sequence[float], ys: Sequence[float], n: int) -> tuple[list[float], list[float]]:
    """At most ``n`` points: the mean of each of ``n`` equal runs of the input."""
    if len(xs) <= n or n < 2:
        return list(xs), list(ys)
    out_x, out_y = [], []
    size = len(xs) / n
    for i in range(n):
        a, b = int(i * size), max(int((i + 1) * size), int(i * size) + 1)
        out_x.append(sum(xs[a:b]) / (b - a))
        out_y.append(sum(ys[a:b]) / (b - a))
    return out_x, out_y


class LossChart(PlotextPlot):
    """Loss curves; ``set_lines`` replaces them, then the widget redraws once."""

    def __init__(self, *, title: str = "loss", **kwargs) -> None:
        super().__init__(**kwargs)
        self.title = title
        self.xlabel = "step"
        self._lines: list[tuple[str, list[float], list[float], str, str]] = []

    def set_lines(
        self,
        lines: list[tuple[str, Sequence[float], Sequence[float]]],
        *,
        xlabel: str = "step",
        markers: Sequence[str] | None = None,
    ) -> None:
        """``lines``: (label, x, y) per curve. Downsampled here to the widget's width."""
        n = max(2 * max(self.size.width, 40), 40)
        self.xlabel = xlabel
        self._lines = []
        for i, (label, xs, ys) in enumerate(lines):
            dx, dy = downsample(xs, ys, n)
            marker = markers[i] if markers else "braille"
            self._lines.append((label, dx, dy, COLOURS[i % len(COLOURS)], marker))
        self.refresh()

    def render(self):
        plt = self.plt
        plt.clear_data()
        plt.clear_figure()
        plt.title(self.title)
        plt.xlabel(self.xlabel)
        drawn = False
        for label, xs, ys, colour, marker in self._lines:
            if xs:
                plt.plot(xs, ys, label=label, color=colour, marker=marker)
                drawn = True
        if not drawn:
            plt.title(f"{self.title} (no data yet)")
        return super().render()
