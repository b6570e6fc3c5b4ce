"""The Compare tab: the runs in checkpoints/ as a table (model, parameters, val loss,
perplexity, chars/s) with their loss curves overlaid. Enter opens a run everywhere (Train
curves, Generate, Gates); space adds or removes it from the chart. A run that cannot be read
is listed with dashes, never a reason to fail."""

from __future__ import annotations

from typing import Any

from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import DataTable, Label

from chartui.display import fmt_int, fmt_loss, fmt_rate
from chartui.engine.runs import Run, RunSummary, list_runs
from chartui.ui.history import MAX_POINTS, halve
from chartui.ui.runs import RunHandle
from chartui.ui.tabs.base import ChartuiTab
from chartui.ui.widgets.loss_chart import LossChart
from chartui.ui.widgets.steady_table import SteadyTable

MAX_CURVES = 6
SERIES = {"val": ("eval", "val_loss"), "train": ("step", "loss")}  # the chart's choice: (record, field)


class _Curves:
    """One run's loss points (characters seen, loss) for both series, read from its
    metrics.jsonl as it grows: each look at the tab reads what was appended since the last, not
    the whole file again (an hour of training writes a third of a megabyte of it). A file that
    cannot be read gives no points. A series past ``MAX_POINTS`` is halved, as the Train tab's
    is, so following a run for days keeps a flat memory (the train series gains a point for each
    step record, about 3,000 an hour on the cpu preset)."""

    def __init__(self, run: str) -> None:
        self._follower = Run(run).follow()
        self.restarts = 0
        self.points: dict[str, tuple[list[int], list[float]]] = {s: ([], []) for s in SERIES}

    def read(self) -> dict[str, tuple[list[int], list[float]]]:
        records = self._follower.poll()
        if self._follower.restarts != self.restarts:  # rewritten: the records are all of it again
            self.restarts = self._follower.restarts
            self.points = {s: ([], []) for s in SERIES}
        for series, (kind, key) in SERIES.items():
            xs, ys = self.points[series]
            for r in records:
                if r.get("event") == kind and isinstance(r.get(key), (int, float)) and isinstance(r.get("chars_seen"), int):
                    xs.append(r["chars_seen"])
                    ys.append(r[key])
            while len(xs) > MAX_POINTS:
                self.points[series] = xs, ys = halve(xs, ys)
        return self.points


class CompareTab(ChartuiTab):
    """All runs, side by side."""

    TAB_ID, TAB_TITLE, TAB_ORDER = "compare", "Compare", 50

    BINDINGS = [
        Binding("r", "refresh", "Refresh", id="compare.refresh"),
        Binding("space", "toggle_curve", "Chart on/off", id="compare.toggle_curve"),
        Binding("v", "toggle_series", "Train/val", id="compare.toggle_series"),
    ]

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.runs: list[RunSummary] = []
        self.charted: list[str] = []
        self.series = "val"
        self._curves: dict[str, _Curves] = {}
        self._drawn: object = None

    def compose(self) -> ComposeResult:
        yield Label("Runs in checkpoints/ (enter opens a run, space charts it)", classes="section")
        yield SteadyTable(id="compare-table", cursor_type="row", zebra_stripes=True)
        yield LossChart(title="validation loss", id="compare-chart")

    def on_mount(self) -> None:
        super().on_mount()
        table = self.query_one("#compare-table", DataTable)
        table.add_columns("run", "model", "params", "val loss", "best", "perplexity", "chars/s", "steps", "status")
        self.action_refresh()

    def focus_default(self) -> None:
        self.query_one("#compare-table", DataTable).focus()

    def shown(self) -> None:
        # The table in the frame that shows the tab, the chart in the next: a plot is the
        # costliest thing the tab draws (25-35 ms), and a run that trains gives it new points
        # at every visit, so drawing it first kept the tab itself off the screen that long.
        self._fill_table()
        self.call_after_refresh(self._draw)

    def runs_changed(self) -> None:
        self.action_refresh()

    def active_run_changed(self, run: RunHandle | None) -> None:
        self.action_refresh()

    def action_refresh(self) -> None:
        self._fill_table()
        self._draw()

    def _fill_table(self) -> None:
        self.runs = list(reversed(list_runs()))
        rows = [
            (
                str(r.path),
                r.name,
                r.label,
                fmt_int(r.info.params["total"] if r.info else None),
                fmt_loss(r.progress.val_loss),
                fmt_loss(r.progress.best_val_loss),
                "-" if r.perplexity is None else f"{r.perplexity:.2f}",
                fmt_rate(r.progress.chars_per_s),
                fmt_int(r.progress.step),
                r.status,
            )
            for r in self.runs
        ]
        self.query_one("#compare-table", SteadyTable).fill(rows)
        if not self.charted:
            self.charted = [str(r.path) for r in self.runs[:4]]

    def action_toggle_curve(self) -> None:
        table = self.query_one("#compare-table", DataTable)
        if not self.runs:
            return
        run = str(self.runs[table.cursor_row].path)
        if run in self.charted:
            self.charted.remove(run)
        else:
            self.charted = ([*self.charted, run])[-MAX_CURVES:]
        self._draw()

    def action_toggle_series(self) -> None:
        self.series = "train" if self.series == "val" else "val"
        self._draw()

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        if event.data_table.id == "compare-table" and event.row_key.value:
            self.app.open_run(event.row_key.value)  # type: ignore[attr-defined]

    def _draw(self) -> None:
        labels = {str(r.path): f"{r.name[-26:]} {r.info.model.arch if r.info else ''}" for r in self.runs}
        self.charted = [run for run in self.charted if run in labels]  # deleted or renamed since: no curve
        self._curves = {run: self._curves.get(run) or _Curves(run) for run in self.charted}
        lines, seen = [], []
        for run, curves in self._curves.items():
            xs, ys = curves.read()[self.series]
            seen.append((run, curves.restarts, len(xs)))
            if xs:
                lines.append((labels.get(run, run), xs, ys))
        # Redraw only what changed: plotting is the costliest thing the tab does.
        drawn = (self.series, labels, seen)
        if drawn == self._drawn:
            return
        self._drawn = drawn
        chart = self.query_one("#compare-chart", LossChart)
        chart.title = f"{'validation' if self.series == 'val' else 'train'} loss against characters seen"
        chart.set_lines([(label, list(xs), list(ys)) for label, xs, ys in lines], xlabel="characters seen")
