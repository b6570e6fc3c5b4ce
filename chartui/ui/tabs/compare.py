"""The Compare tab: the runs in checkpoints/ as a table (architecture, parameters, val loss,
perplexity, chars/s) with their loss curves overlaid. Enter opens a run everywhere (Train
curves, Generate, Gates); space adds or removes it from the chart."""

from __future__ import annotations

from pathlib import Path

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.widgets import DataTable, Label

from chartui.display import fmt_int, fmt_loss, fmt_rate
from chartui.engine import checkpoint as ck
from chartui.ui.widgets.loss_chart import LossChart

MAX_CURVES = 6


class CompareTab(Vertical):
    """All runs, side by side."""

    BINDINGS = [
        Binding("r", "refresh", "Refresh"),
        Binding("space", "toggle_curve", "Chart on/off"),
        Binding("v", "toggle_series", "Train/val"),
    ]

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.runs: list[dict] = []
        self.charted: list[str] = []
        self.series = "val"

    def compose(self) -> ComposeResult:
        yield Label("Runs in checkpoints/ (enter opens a run, space charts it)", classes="section")
        yield DataTable(id="compare-table", cursor_type="row", zebra_stripes=True)
        yield LossChart(title="validation loss", id="compare-chart")

    def on_mount(self) -> None:
        table = self.query_one("#compare-table", DataTable)
        table.add_columns("run", "arch", "params", "val loss", "best", "perplexity", "chars/s", "steps", "status")
        self.action_refresh()

    def focus_default(self) -> None:
        self.query_one("#compare-table", DataTable).focus()

    def on_show(self) -> None:
        self.action_refresh()

    def action_refresh(self) -> None:
        self.runs = list(reversed(ck.list_runs()))
        table = self.query_one("#compare-table", DataTable)
        table.clear()
        for r in self.runs:
            table.add_row(Path(r["run"]).name, f"{r['arch']} {r['layers']}x{r['hidden']}" if r["arch"] else "-",
                          fmt_int(r["params"]), fmt_loss(r["val_loss"]), fmt_loss(r["best_val_loss"]),
                          "-" if r["perplexity"] is None else f"{r['perplexity']:.2f}", fmt_rate(r["chars_per_s"]),
                          fmt_int(r["step"]), r["status"], key=r["run"])
        if not self.charted:
            self.charted = [r["run"] for r in self.runs[:4]]
        self._draw()

    def action_toggle_curve(self) -> None:
        table = self.query_one("#compare-table", DataTable)
        if not self.runs:
            return
        run = self.runs[table.cursor_row]["run"]
        if run in self.charted:
            self.charted.remove(run)
        else:
            self.charted = (self.charted + [run])[-MAX_CURVES:]
        self._draw()

    def action_toggle_series(self) -> None:
        self.series = "train" if self.series == "val" else "val"
        self._draw()

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        if event.data_table.id == "compare-table" and event.row_key.value:
            self.app.open_run(event.row_key.value)

    def _draw(self) -> None:
        lines = []
        for run in self.charted:
            records = ck.read_metrics(Path(run) / ck.METRICS)
            kind = "eval" if self.series == "val" else "step"
            key = "val_loss" if self.series == "val" else "loss"
            pts = [(r["chars_seen"], r[key]) for r in records if r.get("event") == kind and key in r and "chars_seen" in r]
            if pts:
                summary = next((r for r in self.runs if r["run"] == run), {})
                lines.append((f"{Path(run).name[-26:]} {summary.get('arch', '')}", [p[0] for p in pts], [p[1] for p in pts]))
        chart = self.query_one("#compare-chart", LossChart)
        chart.title = f"{'validation' if self.series == 'val' else 'train'} loss against characters seen"
        chart.set_lines(lines, xlabel="characters seen")
