"""The Generate tab: stream text from a run (or the model training right now) and steer it
from the keyboard while it streams: temperature, top-k, top-p, greedy, seed, speed. Side by
side: one prompt and seed at three temperatures, or across runs of different architectures.
Beam search (``b``) shows the likeliest text instead of a draw; ``w`` writes what is shown
to a file.

Sampling runs in a thread worker over the engine's Sampler (knobs are read before every
character); characters go into each SampleView's buffer, drained by a 30 Hz timer.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.widgets import Input, Label, Select
from textual.worker import get_current_worker

from chartui.display import fmt_loss, printable, unescape
from chartui.engine.runs import list_runs
from chartui.errors import ChartuiError
from chartui.ui.runs import RunHandle
from chartui.ui.tabs.base import ChartuiTab
from chartui.ui.widgets.live_text import LiveText
from chartui.ui.widgets.sample_view import SampleView

TOP_K = [None, 40, 20, 10, 5, 1]
TOP_P = [None, 0.95, 0.9, 0.8, 0.5, 0.2]
SPEEDS = [25, 50, 100, 200, 500, 2000, 0]  # characters a second per stream; 0 = as fast as it goes
LENGTH = 3000
BEAMS = 4  # beam mode: hypotheses kept, and the length penalty that ranks them
BEAM_ALPHA = 0.6
BEAM_LENGTH = 600


class GenerateTab(ChartuiTab):
    """Streamed generation with live knobs."""

    TAB_ID, TAB_TITLE, TAB_ORDER = "generate", "Generate", 20

    BINDINGS = [
        Binding("plus,equals_sign", "temperature(0.1)", "T+", key_display="+", id="generate.temperature_up"),
        Binding("minus", "temperature(-0.1)", "T-", key_display="-", id="generate.temperature_down"),
        Binding("g", "greedy", "Greedy", show=False, id="generate.greedy"),
        Binding("k", "top_k", "Top-k", id="generate.top_k"),
        Binding("p", "top_p", "Top-p", id="generate.top_p"),
        Binding("r", "regenerate", "Regenerate", id="generate.regenerate"),
        Binding("n", "new_seed", "New seed", show=False, id="generate.new_seed"),
        Binding("space", "toggle", "Pause/go", id="generate.toggle"),
        Binding("o", "colour", "Colour by p", show=False, id="generate.colour"),
        Binding("t", "mode('temperatures')", "0.5/1/1.5", id="generate.mode_temperatures"),
        Binding("a", "mode('runs')", "Across runs", id="generate.mode_runs"),
        Binding("b", "mode('beam')", "Beam", show=False, id="generate.mode_beam"),
        Binding("w", "write", "Write to file", id="generate.write"),
        Binding("left_square_bracket", "speed(-1)", "Slower", key_display="[", show=False, id="generate.slower"),
        Binding("right_square_bracket", "speed(1)", "Faster", key_display="]", show=False, id="generate.faster"),
        Binding("escape", "focus_text", "Leave prompt", show=False, id="generate.focus_text"),
    ]

    class Streaming(Message, bubble=False):
        """The worker built its samplers and streams ``generation`` now."""

        def __init__(self, samplers: list[Any], generation: int) -> None:
            super().__init__()
            self.samplers = samplers
            self.generation = generation

    class StreamEnded(Message, bubble=False):
        """Generation ``generation`` stopped (its length reached, stopped, or replaced)."""

        def __init__(self, generation: int) -> None:
            super().__init__()
            self.generation = generation

    class Failed(Message, bubble=False):
        """Generation could not start; ``text`` is for the user."""

        def __init__(self, text: str) -> None:
            super().__init__()
            self.text = text

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.temperature = 0.8
        self.top_k: int | None = None
        self.top_p: float | None = None
        self.greedy = False
        self.seed = 0
        self.speed_index = SPEEDS.index(200)
        self.mode = "single"
        self.colour = False
        self.run_choice: str | None = None
        self._samplers: list = []
        self._paused = threading.Event()
        self.holding = threading.Event()
        """Set while the stream is actually held by a pause (no character is being made)."""
        self._stop = threading.Event()
        self._streaming = False
        self._views: list[SampleView] = []
        self._options: list[tuple[str, str]] = []  # what the run picker offers
        self._generation = 0
        self._shown: dict[str, Any] = {}
        """What the columns on screen were generated from: prompt, mode, runs, knobs."""

    def compose(self) -> ComposeResult:
        with Horizontal(id="gen-top"):
            yield Label("Run")
            yield Select([], prompt="pick a run (ctrl+r)", id="gen-run", compact=True)
            yield Label("Prompt")
            yield Input("ROMEO:\n".replace("\n", "\\n"), id="prompt", compact=True, tooltip="\\n is a newline; Enter generates")
        yield LiveText(id="gen-status")
        with Horizontal(id="gen-columns"):
            for i in range(3):
                with Vertical(classes="gen-column" + ("" if i == 0 else " hidden"), id=f"gen-col-{i}"):
                    yield Label("", classes="gen-title", id=f"gen-title-{i}")
                    with VerticalScroll(classes="gen-scroll", id=f"gen-scroll-{i}"):
                        yield SampleView(id=f"gen-view-{i}")

    def on_mount(self) -> None:
        super().on_mount()
        self._views = list(self.query(SampleView))
        self.set_interval(1 / 30, self._drain)
        self.refresh_runs()
        self._show_status()

    # --- runs -------------------------------------------------------------------------

    def active_run_changed(self, run: RunHandle | None) -> None:
        self.refresh_runs()

    def runs_changed(self) -> None:
        self.refresh_runs()

    def shown(self) -> None:
        self.refresh_runs()

    def refresh_runs(self) -> None:
        """Fill the run picker from checkpoints/ (and the model in training, if any)."""
        select = self.query_one("#gen-run", Select)
        live = self.app.live_run  # type: ignore[attr-defined]
        options = [(f"the model training now ({live.name})", str(live.path))] if live else []
        for r in reversed(list_runs()):
            if live is None or r.path != live.path:
                options.append((f"{r.name}  {r.label}  val {fmt_loss(r.progress.best_val_loss)}", str(r.path)))
        active = self.active_run
        if active is not None and not any(v == str(active.path) for _, v in options) and active.path.exists():
            options.insert(0, (active.name, str(active.path)))
        current = select.value
        if options != self._options:  # rebuilding the picker on every look at the tab cost a layout
            self._options = options
            select.set_options(options)
        values = {v for _, v in options}
        # The active run (opened, picked or in training) wins; otherwise keep the user's pick.
        for choice in (str(active.path) if active else None, current, options[0][1] if options else None):
            if choice in values:
                select.value = choice
                break

    def on_select_changed(self, event: Select.Changed) -> None:
        if event.select.id == "gen-run" and event.value is not Select.BLANK:
            self.run_choice = str(event.value)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input.id == "prompt":
            self.action_regenerate()
            self.action_focus_text()

    def focus_default(self) -> None:
        self.action_focus_text()

    def action_focus_text(self) -> None:
        self.query_one("#gen-scroll-0").focus()

    # --- knobs --------------------------------------------------------------------------

    def action_temperature(self, delta: float) -> None:
        self.greedy = False
        self.temperature = round(min(max(self.temperature + delta, 0.1), 3.0), 2)
        self._apply_knobs()

    def action_greedy(self) -> None:
        self.greedy = not self.greedy
        self._apply_knobs()

    def action_top_k(self) -> None:
        self.top_k = TOP_K[(TOP_K.index(self.top_k) + 1) % len(TOP_K)]
        self._apply_knobs()

    def action_top_p(self) -> None:
        self.top_p = TOP_P[(TOP_P.index(self.top_p) + 1) % len(TOP_P)]
        self._apply_knobs()

    def action_speed(self, step: int) -> None:
        self.speed_index = min(max(self.speed_index + step, 0), len(SPEEDS) - 1)
        self._show_status()

    def action_colour(self) -> None:
        self.colour = not self.colour
        for view in self.query(SampleView):
            view.set_colouring(self.colour)
        self._show_status()

    def action_toggle(self) -> None:
        if not self._streaming:
            self.action_regenerate()
            return
        if self._paused.is_set():
            self._paused.clear()
        else:
            self._paused.set()
        self._show_status()

    def action_new_seed(self) -> None:
        self.seed = random.randrange(1_000_000)
        self.action_regenerate()

    def action_mode(self, mode: str) -> None:
        self.mode = "single" if self.mode == mode else mode
        if self.mode == "temperatures":
            self.temperature, self.greedy = 1.0, False  # the chapter's 0.5 / 1.0 / 1.5
        self.action_regenerate()

    def action_write(self) -> None:
        """Write the text on screen (every column, with what made it) to a file in exports/."""
        from datetime import datetime

        views = [v for v in self.query(SampleView) if not v.parent.parent.has_class("hidden")]  # type: ignore[union-attr]
        if not self._shown or not any(v.text for v in views):
            self.app.notify("nothing to write yet: generate some text first (r)", severity="warning")
            return
        info = self._shown
        lines = [
            f"# chartui generate, {datetime.now():%Y-%m-%d %H:%M:%S}",
            f"# prompt: {info['prompt']!r}",
            f"# mode: {info['mode']}",
        ]
        for i, (view, run, knob) in enumerate(zip(views, info["runs"], info["knobs"]), 1):
            settings = "  ".join(f"{k} {v}" for k, v in knob.items())
            lines += ["", f"## column {i}: run {run}", f"## {settings}", info["prompt"] + view.text]
        self.keep("generate", {"txt": ("\n".join(lines) + "\n").encode()})

    def _temperatures(self) -> list[float]:
        if self.mode == "beam":
            return [0.0]
        if self.mode == "temperatures":
            return [max(self.temperature - 0.5, 0.05), self.temperature, self.temperature + 0.5]
        return [self.temperature]

    def _apply_knobs(self) -> None:
        """Hand the knobs to the running samplers; they take effect at the next character."""
        temps = self._temperatures()
        for i, sampler in enumerate(self._samplers):
            t = 0.0 if self.greedy else temps[min(i, len(temps) - 1)]
            sampler.set_knobs(temperature=t, top_k=self.top_k, top_p=self.top_p)
        if self.mode == "temperatures":
            for i, t in enumerate(temps):
                self.query_one(f"#gen-title-{i}", Label).update(f"T = {t:.2f}")
        self._show_status()

    def _show_status(self) -> None:
        speed = SPEEDS[self.speed_index]
        t = "greedy (T=0)" if self.greedy else f"T [b]{self.temperature:.2f}[/]"
        state = (
            "paused" if self._paused.is_set() and self._streaming else "streaming" if self._streaming else "idle (r generates)"
        )
        self.query_one("#gen-status", LiveText).show(
            f"[b]{state}[/]  {t}  top-k [b]{self.top_k or 'off'}[/]  top-p [b]{self.top_p or 'off'}[/]  seed [b]{self.seed}[/]  "
            f"speed [b]{speed or 'max'}[/]{'/s' if speed else ''}  {self.mode}{'  colour=p' if self.colour else ''}"
        )

    # --- generation -----------------------------------------------------------------------

    def action_regenerate(self) -> None:
        prompt = unescape(self.query_one("#prompt", Input).value)
        runs = self._runs_for_mode()
        if not runs:
            self.app.notify("no run to generate from: train one in the Train tab, or pick a run (ctrl+r)", severity="warning")
            return
        self._stop.set()
        self._paused.clear()
        self._generation += 1
        columns = len(runs) if self.mode == "runs" else len(self._temperatures())
        for i in range(3):
            self.query_one(f"#gen-col-{i}").set_class(i >= columns, "hidden")
            self.query_one(f"#gen-view-{i}", SampleView).reset(prefix=printable(prompt), generation=self._generation)
        titles = (
            [Path(r).name for r in runs]
            if self.mode == "runs"
            else [f"T = {t:.2f}" for t in self._temperatures()]
            if self.mode == "temperatures"
            else [f"beam search: the likeliest of {BEAMS} beams (length penalty {BEAM_ALPHA})"]
            if self.mode == "beam"
            else [""]
        )
        for i, title in enumerate(titles):
            self.query_one(f"#gen-title-{i}", Label).update(title)
        self._streaming = True
        self._samplers = []
        self._show_status()
        views = [self.query_one(f"#gen-view-{i}", SampleView) for i in range(columns)]
        temps = self._temperatures()
        handles = [self.app.run_handle(runs[i] if self.mode == "runs" else runs[0]) for i in range(columns)]  # type: ignore[attr-defined]
        knobs = [
            {"beams": BEAMS, "alpha": BEAM_ALPHA, "length": BEAM_LENGTH}
            if self.mode == "beam"
            else {
                "temperature": 0.0 if self.greedy else temps[min(i, len(temps) - 1)],
                "top_k": self.top_k,
                "top_p": self.top_p,
                "seed": self.seed,
            }
            for i in range(columns)
        ]
        self._shown = {"prompt": prompt, "mode": self.mode, "runs": [h.name for h in handles], "knobs": knobs}
        self._generate(handles, knobs, prompt, views, self._generation)

    def _runs_for_mode(self) -> list[str]:
        choice = self.run_choice
        if self.mode != "runs":
            return [choice] if choice else []
        # Across runs: the newest run of each architecture, starting with the chosen one.
        summaries = list(reversed(list_runs()))
        picked: dict[str, str] = {}
        for r in [s for s in summaries if str(s.path) == choice] + summaries:
            if r.info is not None and r.info.model.arch not in picked and r.progress.step:
                picked[r.info.model.arch] = str(r.path)
        runs = list(picked.values())[:3]
        if len(runs) < 2:
            self.app.notify("comparing across runs needs runs of two architectures: try `chartui compare`", severity="warning")
        return runs

    @work(thread=True, group="generate", exclusive=True, exit_on_error=False)
    def _generate(
        self, handles: list[RunHandle], knobs: list[dict], prompt: str, views: list[SampleView], generation: int
    ) -> None:
        from chartui.engine.sample import Sampler, Token, beam_search

        worker = get_current_worker()
        self._stop.clear()
        try:
            samplers = []
            streams: list[Iterator[Token]] = []
            for handle, knob in zip(handles, knobs):
                model, vocab = handle.model()
                if "beams" in knob:  # the whole search first, then its best text streams like a draw
                    best = beam_search(model, vocab, prompt=prompt, **knob)[0]
                    streams.append(Token(c, i, p) for c, i, p in zip(best.text, vocab.encode(best.text), best.probs))
                else:
                    samplers.append(Sampler(model, vocab, prompt=prompt, **knob))
                    streams.append(samplers[-1].tokens(LENGTH))
        except Exception as exc:  # a ChartuiError (bad input) or a bug: reported in the app, never fatal
            self.post_message(self.Failed(str(exc) if isinstance(exc, ChartuiError) else f"generation failed: {exc!r}"))
            self.post_message(self.StreamEnded(generation))
            return
        if generation != self._generation:
            return  # a newer generation started while this one loaded its model
        self.post_message(self.Streaming(samplers, generation))
        start = time.monotonic()
        produced = 0
        try:
            for _ in range(LENGTH):
                while self._paused.is_set() and not self._stop.is_set() and not worker.is_cancelled:
                    self.holding.set()
                    time.sleep(0.05)
                    start = time.monotonic() - produced / max(SPEEDS[self.speed_index], 1)
                self.holding.clear()
                if self._stop.is_set() or worker.is_cancelled or generation != self._generation:
                    return
                for view, stream in zip(views, streams):
                    token = next(stream)
                    view.feed(token.char, token.prob, generation)
                produced += 1
                speed = SPEEDS[self.speed_index]
                if speed:
                    ahead = produced / speed - (time.monotonic() - start)
                    if ahead > 0:
                        time.sleep(ahead)
                    elif ahead < -0.5:
                        start = time.monotonic() - produced / speed  # speed changed: re-anchor
        except StopIteration:
            pass
        finally:
            self.post_message(self.StreamEnded(generation))

    def on_generate_tab_streaming(self, message: Streaming) -> None:
        if message.generation == self._generation:
            self._samplers = message.samplers
            self._apply_knobs()  # the keys pressed while the model loaded

    def on_generate_tab_stream_ended(self, message: StreamEnded) -> None:
        if message.generation == self._generation:
            self._streaming = False
            self._show_status()

    def on_generate_tab_failed(self, message: Failed) -> None:
        self.app.notify(message.text, severity="error", timeout=8)

    def _drain(self) -> None:
        # 30 times a second, streaming or not: no DOM query here (one cost more than the rest of
        # the app's idle work while training).
        for view in self._views:
            if view.drain():
                view.parent.scroll_end(animate=False)  # type: ignore[union-attr]

    @property
    def samplers(self) -> list[Any]:
        """The engine Samplers of the stream on screen (one per column)."""
        return list(self._samplers)

    def commands(self) -> Iterable[tuple[str, str, Callable[[], object]]]:
        yield "Generate", "Stream text from the active run", self.action_regenerate
        yield "Compare temperatures", "One prompt at T=0.5, 1.0 and 1.5", lambda: self.action_mode("temperatures")
        yield "Compare architectures", "One prompt across RNN, LSTM and GRU runs", lambda: self.action_mode("runs")
        yield "Beam search", f"The likeliest text of {BEAMS} beams instead of a draw", lambda: self.action_mode("beam")
        yield "Write generated text", "Save the columns on screen, with their settings, to exports/", self.action_write

    def stop_work(self, timeout: float = 0.0) -> bool:
        self.stop()
        return True

    def stop(self) -> None:
        """End the stream (any thread)."""
        self._stop.set()
        self._paused.clear()
