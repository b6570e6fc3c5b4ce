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
from chartui.errors import ChartuiError
from chartui.ui.runs import RunHandle
from chartui.ui.tabs.base import ChartuiTab
from chartui.ui.widgets.loss_chart import LossChart

MAX_CURVES = 6


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

    def compose(self) -> ComposeResult:
        yield Label("Runs in checkpoints/ (enter opens a run, space charts it)", classes="section")
        yield DataTable(id="compare-table", cursor_type="row", zebra_stripes=True)
        yield LossChart(title="validation loss", id="compare-chart")

    def on_mount(self) -> None:
        super().on_mount()
        table = self.query_one("#compare-table", DataTable)
        table.add_columns("run", "model", "params", "val loss", "best", "perplexity", "chars/s", "steps", "status")
        self.action_refresh()

    def focus_default(self) -> None:
        self.query_one("#compare-table", DataTable).focus()

    def shown(self) -> None:
        self.action_refresh()

    def runs_changed(self) -> None:
        self.action_refresh()

    def active_run_changed(self, run: RunHandle | None) -> None:
        self.action_refresh()

    def action_refresh(self) -> None:
        self.runs = list(reversed(list_runs()))
        table = self.query_one("#compare-table", DataTable)
        table.clear()
        for r in self.runs:
            p = r.progress
            table.add_row(
                r.name,
                r.label,
                fmt_int(r.info.params["total"] if r.info else None),
                fmt_loss(p.val_loss),
                fmt_loss(p.best_val_loss),
                "-" if r.perplexity is None else f"{r.perplexity:.2f}",
                fmt_rate(p.chars_per_s),
                fmt_int(p.step),
                r.status,
                key=str(r.path),
            )
        if not self.charted:
            self.charted = [str(r.path) for r in self.runs[:4]]
        self._draw()

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
        kind, key = ("eval", "val_loss") if self.series == "val" else ("step", "loss")
        labels = {str(r.path): f"{r.name[-26:]} {r.info.model.arch if r.info else ''}" for r in self.runs}
        lines = []
        for run in self.charted:
            try:
                records = Run(run).metrics()
            except ChartuiError:
                continue  # unreadable metrics: that run has no curve
            pts = [
                (r["chars_seen"], r[key])
                for r in records
                if r.get("event") == kind and isinstance(r.get(key), (int, float)) and isinstance(r.get("chars_seen"), int)
            ]
            if pts:
                lines.append((labels.get(run, run), [p[0] for p in pts], [p[1] for p in pts]))
        chart = self.query_one("#compare-chart", LossChart)
        chart.title = f"{'validation' if self.series == 'val' else 'train'} loss against characters seen"
        chart.set_lines(lines, xlabel="characters seen")
