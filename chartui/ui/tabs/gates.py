"""The Gates tab: a passage coloured by what one unit does at each character, for any gate
of any layer; a units x characters heatmap; the engine's ranking of interesting units; and,
for the selected character, its exact values and the model's top-5 guesses for the next
character (the view from Karpathy's 2015 post, in a terminal).

Tracing (the engine's replay) and ranking run in a thread worker; this tab only indexes
the arrays it gets back and picks colours.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.widgets import Label, TextArea
from textual.worker import get_current_worker

from chartui.display import printable
from chartui.errors import ChartuiError
from chartui.ui.runs import RunHandle
from chartui.ui.tabs.base import ChartuiTab
from chartui.ui.widgets.gate_view import GateHeatmap, GateText
from chartui.ui.widgets.live_text import LiveText
from chartui.ui.widgets.rank_table import RankTable

DEFAULT_TEXT = "First Citizen:\nBefore we proceed any further, hear me speak.\n\nAll:\nSpeak, speak.\n"


TRACKS_WIDTH = 16  # the ranking's feature column: "position in line"
SHORT_FEATURES = {"inside parentheses": "in parentheses", "inside quotes": "in quotes"}
"""Features named in fewer cells in the ranking (the status line says them in full)."""


class GatesTab(ChartuiTab):
    """Gate activations per character."""

    TAB_ID, TAB_TITLE, TAB_ORDER = "gates", "Gates", 30

    BINDINGS = [
        Binding("up", "unit(-1)", "Unit", key_display="↑↓", id="gates.previous_unit"),
        Binding("down", "unit(1)", "Unit", show=False, id="gates.next_unit"),
        Binding("g", "gate(1)", "Gate", id="gates.next_gate"),
        Binding("l", "layer(1)", "Layer", id="gates.next_layer"),
        Binding("n", "ranked(1)", "Next ranked", id="gates.next_ranked"),
        Binding("e", "edit", "Edit text", id="gates.edit"),
        Binding("t", "trace", "Trace", id="gates.trace"),
        Binding("x", "export", "Export", id="gates.export"),
        Binding("escape", "leave_text", "Done editing", show=False, id="gates.leave_text"),
    ]

    class TraceReady(Message, bubble=False):
        """A gate trace and its unit rankings, computed in a worker for request ``key``."""

        def __init__(self, trace: Any, rankings: dict[tuple[int, str], list], key: int) -> None:
            super().__init__()
            self.trace = trace
            self.rankings = rankings
            self.key = key

    class TraceFailed(Message, bubble=False):
        """Tracing request ``key`` failed; ``text`` is for the user."""

        def __init__(self, text: str, key: int) -> None:
            super().__init__()
            self.text = text
            self.key = key

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.trace: Any = None
        self.rankings: dict[tuple[int, str], list] = {}
        self.gate_layer = 0
        self.gate = ""
        self.unit = 0
        self._key = 0
        self._unit_chosen = False

    def compose(self) -> ComposeResult:
        yield LiveText(id="gates-status")
        yield TextArea(DEFAULT_TEXT, id="gates-input", soft_wrap=True, show_line_numbers=False, compact=True)
        with Horizontal(id="gates-body"):
            with Vertical(id="gates-left"):
                with VerticalScroll(id="gates-text-scroll"):
                    yield GateText(id="gates-text")
                yield GateHeatmap(id="gates-heatmap")
            with Vertical(id="gates-right"):
                yield LiveText(id="gates-detail")
                yield Label("Interesting units (enter picks)", classes="section")
                yield RankTable([("unit", 4, True), ("tracks", TRACKS_WIDTH, False), ("r", 5, True)], id="gates-rank")

    def on_mount(self) -> None:
        super().on_mount()
        self._show_status("pick a run (ctrl+r), then t traces the passage")

    # --- tracing --------------------------------------------------------------------------

    def active_run_changed(self, run: RunHandle | None) -> None:
        self.trace = None
        if self.on_screen:
            self.action_trace()

    def shown(self) -> None:
        if self.trace is None and self.active_run is not None:
            self.action_trace()

    def action_trace(self) -> None:
        run = self.active_run
        text = self.query_one("#gates-input", TextArea).text
        if not run:
            self.app.notify("no run to trace: train one in the Train tab, or pick a run (ctrl+r)", severity="warning")
            return
        if not text:
            self.app.notify("the passage is empty: type or paste some text (e)", severity="warning")
            return
        self._key += 1
        self._show_status("tracing...")
        self._trace(run, text, self._key)

    def on_text_area_changed(self, event: TextArea.Changed) -> None:
        # Re-trace shortly after typing stops, not on every key.
        self._key += 1
        key = self._key
        self.set_timer(0.6, lambda: self.action_trace() if key == self._key and self.active_run else None)

    @work(thread=True, group="gates", exclusive=True, exit_on_error=False)
    def _trace(self, run: RunHandle, text: str, key: int) -> None:
        from chartui.engine.gates import rank_units, trace

        worker = get_current_worker()
        try:
            model, vocab = run.model()
            tr = trace(model, vocab, text)
            rankings = {}
            for layer in range(len(tr.layers)):
                for gate in tr.gate_names:
                    if worker.is_cancelled:
                        return
                    rankings[(layer, gate)] = rank_units(tr, layer=layer, gate=gate, top=12)
        except Exception as exc:  # a ChartuiError (bad input) or a bug: reported in the app, never fatal
            self.post_message(self.TraceFailed(str(exc) if isinstance(exc, ChartuiError) else f"tracing failed: {exc!r}", key))
            return
        self.post_message(self.TraceReady(tr, rankings, key))

    def on_gates_tab_trace_ready(self, message: TraceReady) -> None:
        if message.key != self._key:
            return  # the text changed since; a newer trace is coming
        self.trace, self.rankings = message.trace, message.rankings
        if self.gate not in self.trace.gate_names:
            self.gate = self.trace.default_gate
        self.gate_layer = min(self.gate_layer, len(self.trace.layers) - 1)
        ranking = self.rankings.get((self.gate_layer, self.gate))
        if ranking and (not self._unit_chosen or self.unit >= self.trace.hidden):
            self.unit = ranking[0].unit
        self._redraw(ranking_changed=True)

    def on_gates_tab_trace_failed(self, message: TraceFailed) -> None:
        if message.key != self._key:
            return  # an older request's failure; a newer trace is coming
        self._show_status(f"[red]{printable(message.text)}[/]")
        self.app.notify(message.text, severity="error", timeout=8)

    def commands(self) -> Iterable[tuple[str, str, Callable[[], object]]]:
        yield "Trace gates", "Colour the passage by a unit's gate activation", self.action_trace
        yield "Export gate trace", "Write the trace as JSON and the view as SVG to exports/", self.action_export

    def action_export(self) -> None:
        """Write the trace on screen as JSON (what ``chartui gates --json`` prints) and the
        screen as an SVG, side by side in exports/."""
        import json

        tr = self.trace
        if tr is None:
            self.app.notify("nothing to export yet: trace a passage first (t)", severity="warning")
            return
        run = self.active_run
        ranking = self.rankings.get((self.gate_layer, self.gate), [])
        data = {**tr.export(self.gate_layer, self.gate, self.unit, ranking), "run": str(run.path) if run else None}
        self.keep("gates", {"json": json.dumps(data, ensure_ascii=False).encode()}, screenshot=True)

    # --- navigation -----------------------------------------------------------------------

    def action_unit(self, delta: int) -> None:
        if self.trace is None:
            return
        self.unit = (self.unit + delta) % self.trace.hidden
        self._unit_chosen = True
        self._redraw()

    def action_gate(self, delta: int) -> None:
        if self.trace is None:
            return
        names = self.trace.gate_names
        self.gate = names[(names.index(self.gate) + delta) % len(names)]
        self._redraw(ranking_changed=True)

    def action_layer(self, delta: int) -> None:
        if self.trace is None:
            return
        self.gate_layer = (self.gate_layer + delta) % len(self.trace.layers)
        self._redraw(ranking_changed=True)

    def action_ranked(self, delta: int) -> None:
        ranking = self.rankings.get((self.gate_layer, self.gate)) or []
        if not ranking:
            return
        units = [r.unit for r in ranking]
        i = units.index(self.unit) if self.unit in units else -1
        self.unit = units[(i + delta) % len(units)]
        self._unit_chosen = True
        self._redraw()

    def focus_default(self) -> None:
        self.query_one("#gates-text", GateText).focus()

    def action_edit(self) -> None:
        self.query_one("#gates-input", TextArea).focus()

    def action_leave_text(self) -> None:
        self.query_one("#gates-text", GateText).focus()

    def on_rank_table_picked(self, message: RankTable.Picked) -> None:
        self.unit = int(message.cells[0])  # the row as it was picked, whatever is shown now
        self._unit_chosen = True
        self._redraw()

    def on_gate_text_unit_step(self, message: GateText.UnitStep) -> None:
        self.action_unit(message.delta)

    def on_gate_text_cursor_moved(self, message: GateText.CursorMoved) -> None:
        if self.trace is not None:
            self._show_detail()
            self._show_heatmap()

    # --- drawing ----------------------------------------------------------------------------

    def _redraw(self, *, ranking_changed: bool = False) -> None:
        tr = self.trace
        acts = tr.values(self.gate_layer, self.gate)
        lo, hi = tr.value_range(self.gate_layer, self.gate, self.unit)
        self.query_one("#gates-text", GateText).show(tr.text, acts[:, self.unit], lo, hi, diverging=lo < 0)
        if ranking_changed:
            ranking = self.rankings.get((self.gate_layer, self.gate), [])
            units = [r.unit for r in ranking]
            rows = [
                (
                    str(r.unit),
                    SHORT_FEATURES.get(r.feature, r.feature),
                    f"{r.correlation:+.2f}" if r.feature != "variance" else f"{r.variance:.2f}"[:5].rstrip("."),
                )
                for r in ranking
            ]
            # the cursor on the unit shown, if ranked
            cursor = units.index(self.unit) if self.unit in units else 0
            self.query_one("#gates-rank", RankTable).fill(rows, cursor)
        why = next((r for r in self.rankings.get((self.gate_layer, self.gate), []) if r.unit == self.unit), None)
        reason = (
            ""
            if why is None
            else f" - {'tracks' if why.correlation >= 0 else 'opposes'} {why.feature} (r={why.correlation:+.2f})"
            if why.feature != "variance"
            else " - wide swings"
        )
        self._show_status(
            f"{tr.arch} layer [b]{self.gate_layer}[/]/{len(tr.layers) - 1}  gate [b]{self.gate}[/]  unit [b]{self.unit}[/]/{tr.hidden - 1}{reason}  "
            f"[dim]scale {lo:+.2f}..{hi:+.2f}[/]"
        )
        self._show_detail()
        self._show_heatmap()

    def _show_status(self, text: str) -> None:
        run = self.active_run
        name = "no run" if run is None else f"{run.name} (training now)" if run.live else run.name
        self.query_one("#gates-status", LiveText).show(f"[b]{printable(name)}[/]  {text}")

    def _show_detail(self) -> None:
        tr = self.trace
        t = self.query_one("#gates-text", GateText).cursor
        if tr is None or t >= len(tr.text):
            return
        ch = tr.text[t]
        lines = [f"[b]{printable(repr(ch))}[/] at {t}, unit {self.unit}, layer {self.gate_layer}"]
        for name in tr.gate_names:
            v = float(tr.values(self.gate_layer, name)[t, self.unit])
            lines.append(f"{'>' if name == self.gate else ' '} {name:<9} {v:+.4f}")
        lines.append("next character:")
        for c, p in tr.top_next(t):
            lines.append(f"  {printable(repr(c)):<6} {p:5.1%} {'█' * max(1, round(p * 14))}")
        self.query_one("#gates-detail", LiveText).show("\n".join(lines))

    def _show_heatmap(self) -> None:
        tr = self.trace
        acts = tr.values(self.gate_layer, self.gate)
        lo, hi = tr.value_range(self.gate_layer, self.gate)
        heatmap = self.query_one("#gates-heatmap", GateHeatmap)
        rows = max(heatmap.size.height - 1, 1)
        first = (self.unit // rows) * rows  # the page of units that holds the chosen one
        heatmap.show(
            tr.text,
            acts,
            lo,
            hi,
            diverging=lo < 0,
            cursor=self.query_one("#gates-text", GateText).cursor,
            unit=self.unit,
            first_unit=first,
        )
