"""The Train tab: pick a corpus and preset, edit the shape and budget, start, pause, resume,
stop; watch the loss chart, the stats line and the samples arrive.

Training runs in a thread worker that iterates the engine's Trainer and records every event
in a RunHistory; the UI reads the history on coalesced TrainProgress messages (stats) and
on a 4 Hz timer (chart). A run trained elsewhere (``chartui train`` in another tmux pane) is
followed through its metrics.jsonl instead.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Grid, Horizontal, Vertical, VerticalScroll
from textual.suggester import SuggestFromList
from textual.widgets import Button, Input, Label, Select, Sparkline, Static
from textual.worker import get_current_worker

from chartui.config import ARCHS, DEFAULT_PRESET, build_configs, list_presets, load_preset, to_dict
from chartui.display import fmt_duration, fmt_loss, fmt_rate, printable
from chartui.engine import checkpoint as ck
from chartui.engine.corpus import NAMED
from chartui.engine.events import CheckpointSaved, Finished, SampleReady, Started, StepDone
from chartui.errors import ChartuiError
from chartui.ui.history import RunHistory
from chartui.ui.messages import EngineEvent, TrainProgress, WorkFailed
from chartui.ui.widgets.loss_chart import LossChart

# Form fields: (id, label, kind). Numbers are checked by the config's own rules on Start.
FIELDS = [
    ("layers", "Layers", int),
    ("hidden", "Hidden", int),
    ("seq_len", "Seq len", int),
    ("batch_size", "Batch", int),
    ("lr", "LR", float),
    ("max_seconds", "Budget s", float),
]
# Every cycle the UI spends drawing is taken from training on a small CPU: the numbers refresh
# ten times a second and the chart (the costly part) twice, which reads as live to a person.
POST_EVERY = 1 / 10
CHART_EVERY = 0.5


class TrainTab(Vertical, can_focus=True):
    """Everything about training one run (focusable, so its keys work outside the form)."""

    BINDINGS = [
        Binding("s", "start", "Start/resume"),
        Binding("p", "pause", "Pause"),
        Binding("x", "stop", "Stop"),
        Binding("c", "toggle_axis", "Steps/chars"),
    ]

    def __init__(self, *, corpus: str = "shakespeare", preset: str = DEFAULT_PRESET,
                 overrides: dict[str, Any] | None = None, **kwargs) -> None:
        super().__init__(**kwargs)
        self.initial_corpus = corpus
        self.initial_preset = preset
        self.initial_overrides = overrides or {}
        # The opened run's settings that the form has no field for (embedding size, dropout),
        # so Start describes that run until the user picks a preset.
        self.run_overrides: dict[str, Any] = {}
        self.history = RunHistory()
        self.trainer = None  # the engine Trainer while one runs in this app
        self.follower: ck.MetricsFollower | None = None  # a run trained by another process
        self.opened_run: Path | None = None
        self.axis = "steps"
        self._chart_version = -1
        self._saved = ""
        self._train_done = threading.Event()
        self._train_done.set()
        self._stop_requested = False

    # --- layout -------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        presets = self._preset_names = [p.name for p in list_presets()]
        if self.initial_preset not in presets:  # a preset given as a .toml path
            presets = self._preset_names = [*presets, self.initial_preset]
        with Horizontal():
            with VerticalScroll(id="train-form"):
                with Grid(id="train-grid"):
                    yield Label("Corpus")
                    yield Input(self.initial_corpus, id="corpus", compact=True,
                                suggester=SuggestFromList(NAMED), tooltip="shakespeare, tinyshakespeare, or a path")
                    yield Label("Preset")
                    yield Select([(Path(p).stem, p) for p in presets], value=self.initial_preset,
                                 allow_blank=False, id="preset", compact=True)
                    yield Label("Arch")
                    yield Select([(a, a) for a in ARCHS], value="lstm", allow_blank=False, id="arch", compact=True)
                    for field_id, label, _ in FIELDS:
                        yield Label(label)
                        yield Input("", id=field_id, compact=True)
                with Horizontal(id="train-buttons"):
                    yield Button("Start", id="start", variant="success", compact=True)
                    yield Button("Pause", id="pause", compact=True, disabled=True)
                    yield Button("Stop", id="stop", variant="error", compact=True, disabled=True)
                yield Static("", id="train-params")
            with Vertical(id="train-main"):
                yield Static("Press s to train the preset on the corpus.", id="train-stats")
                yield LossChart(title="loss (nats/char)", id="train-chart")
                yield Sparkline([], id="train-spark")
                yield Label("Samples as training goes", classes="section")
                with VerticalScroll(id="train-samples"):
                    yield Static("", id="samples-text")

    def on_mount(self) -> None:
        self._fill_form(self.initial_preset, self.initial_overrides)
        self.set_interval(CHART_EVERY, self._tick)

    def focus_default(self) -> None:
        self.focus()

    # --- the form -----------------------------------------------------------------------

    def _fill_form(self, preset_name: str, overrides: dict[str, Any] | None = None) -> None:
        try:
            preset = load_preset(preset_name)
            model, train = build_configs(preset, overrides or {})
        except ChartuiError as exc:
            self.app.notify(str(exc), severity="error")
            return
        values = {**to_dict(model), **to_dict(train)}
        self.query_one("#arch", Select).value = model.arch
        for field_id, _, _ in FIELDS:
            value = values.get(field_id)
            self.query_one(f"#{field_id}", Input).value = "" if value is None else f"{value:g}" if isinstance(value, float) else str(value)
        self._show_params(model)

    def _show_params(self, model) -> None:
        counts = model.param_breakdown(65)
        self.query_one("#train-params", Static).update(
            f"~{counts['total']:,} params for 65 chars\n(embedding {counts['embedding']:,}, recurrent {counts['recurrent']:,}, head {counts['head']:,})"
        )

    def on_select_changed(self, event: Select.Changed) -> None:
        # Only a user's choice refills the form (not opening a run, which sets the fields itself).
        if event.select.id == "preset" and event.value is not Select.BLANK and event.select.has_focus:
            self.run_overrides = {}
            self._fill_form(str(event.value))

    def _form_overrides(self) -> tuple[str, dict[str, Any]]:
        """(preset, overrides) from the form; raises ChartuiError on a malformed number."""
        from chartui.errors import ConfigError

        overrides: dict[str, Any] = {"corpus": self.query_one("#corpus", Input).value.strip() or "shakespeare",
                                     "arch": self.query_one("#arch", Select).value}
        for field_id, label, kind in FIELDS:
            text = self.query_one(f"#{field_id}", Input).value.strip()
            if not text:
                continue
            try:
                overrides[field_id] = kind(text)
            except ValueError:
                raise ConfigError(f"{label} must be {'a whole number' if kind is int else 'a number'} (got {text!r})") from None
        for key, value in {**self.initial_overrides, **self.run_overrides}.items():
            overrides.setdefault(key, value)
        return str(self.query_one("#preset", Select).value), overrides

    # --- control ------------------------------------------------------------------------

    @property
    def is_training(self) -> bool:
        """True from Start until the run's final checkpoint (loading the corpus included)."""
        return not self._train_done.is_set()

    def action_start(self) -> None:
        if self.is_training:
            if self.trainer is not None and self.trainer.paused:
                self.action_pause()
            return
        if self.follower is not None:
            self.app.notify("this run is being trained by another process; the chart follows it", severity="warning")
            return
        try:
            preset, overrides = self._form_overrides()
            model, train = build_configs(load_preset(preset), overrides)
        except ChartuiError as exc:
            self.app.notify(str(exc), severity="error", timeout=8)
            return
        resume = self._resume_plan(model, train)
        self._stop_requested = False
        self.history = RunHistory()
        self._chart_version = -1
        self.query_one("#samples-text", Static).update("")
        self._set_buttons(running=True)
        self._train_done.clear()
        self.query_one("#train-stats", Static).update("loading the corpus and building the model...")
        self._train(model, train, preset, resume)

    def _resume_plan(self, model, train) -> tuple[Path, dict[str, Any]] | None:
        """(run, overrides) when the form still describes the opened run, so Start continues
        it; None when the user changed its shape or corpus (Start then begins a new run)."""
        run = self.opened_run
        if run is None or not (run / ck.LAST).is_file():
            return None
        try:
            meta = ck.read_header(run / ck.LAST).meta
        except ChartuiError:
            return None
        saved_model, saved_train = meta.get("model") or {}, meta.get("train") or {}
        same = all(saved_model.get(k) == getattr(model, k) for k in ("arch", "layers", "hidden", "embed")) and all(
            saved_train.get(k) == getattr(train, k) for k in ("seq_len", "batch_size", "corpus"))
        if not same:
            return None
        overrides: dict[str, Any] = {"lr": train.lr}
        if meta.get("status") == "finished":  # Continue: another budget's worth on top
            overrides["max_seconds"] = float(meta.get("elapsed", 0.0)) + (train.max_seconds or 300.0)
        elif train.max_seconds:
            overrides["max_seconds"] = train.max_seconds
        return run, overrides

    def action_pause(self) -> None:
        if self.trainer is None:
            return
        if self.trainer.paused:
            self.trainer.unpause()
        else:
            self.trainer.pause()
        self.query_one("#pause", Button).label = "Resume" if self.trainer.paused else "Pause"

    def action_stop(self) -> None:
        if not self.is_training:
            return
        self._stop_requested = True  # reaches a trainer still being built, too
        if self.trainer is not None:
            self.trainer.stop()
        self.query_one("#train-stats", Static).update("stopping: saving a resumable checkpoint...")

    def action_toggle_axis(self) -> None:
        self.axis = "chars" if self.axis == "steps" else "steps"
        self._chart_version = -1
        self._draw_chart()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        {"start": self.action_start, "pause": self.action_pause, "stop": self.action_stop}[event.button.id]()

    def _set_buttons(self, *, running: bool) -> None:
        self.query_one("#start", Button).disabled = running
        self.query_one("#pause", Button).disabled = not running
        self.query_one("#stop", Button).disabled = not running
        self.query_one("#pause", Button).label = "Pause"
        for widget in self.query("#train-grid Input, #train-grid Select"):
            widget.disabled = running

    # --- the worker ---------------------------------------------------------------------

    @work(thread=True, group="train", exit_on_error=False)
    def _train(self, model, train, preset: str, resume: tuple[Path, dict[str, Any]] | None) -> None:
        from chartui.engine.train import Trainer

        worker = get_current_worker()
        try:
            if resume is not None:
                trainer = Trainer.resume(*resume)
            else:
                trainer = Trainer.new(model, train, preset=preset)
        except Exception as exc:  # noqa: BLE001 - ChartuiError for bad input, anything else is a bug
            text = str(exc) if isinstance(exc, ChartuiError) else f"could not start training: {exc!r}"
            self.post_message(WorkFailed("train", text))
            self._train_done.set()
            return
        self.trainer = trainer
        if self._stop_requested:  # Stop or quit came while the corpus was loading
            trainer.stop()
        history = self.history
        last_post = 0.0
        try:
            for event in trainer:
                if worker.is_cancelled and not trainer.stopping:
                    trainer.stop()  # the app is closing: save and finish
                history.apply(event)
                if isinstance(event, StepDone):
                    now = time.monotonic()
                    if now - last_post >= POST_EVERY:
                        last_post = now
                        self.post_message(TrainProgress())
                else:
                    self.post_message(EngineEvent(event))
        except ChartuiError as exc:
            self.post_message(WorkFailed("train", str(exc)))
        except Exception as exc:  # noqa: BLE001 - a bug: say so in the app rather than die silently
            self.post_message(WorkFailed("train", f"training failed unexpectedly: {exc!r}"))
        finally:
            self.trainer = None
            self._train_done.set()

    # --- events from the worker -----------------------------------------------------------

    def on_train_progress(self, message: TrainProgress) -> None:
        self._show_stats()

    def on_engine_event(self, message: EngineEvent) -> None:
        event = message.event
        if isinstance(event, Started):
            self.app.active_run = event.run
            self.app.sub_title = f"training {Path(event.run).name}"
            p = event.params
            self.query_one("#train-params", Static).update(
                f"{p['total']:,} params\n(embedding {p['embedding']:,}, recurrent {p['recurrent']:,}, head {p['head']:,})\n"
                f"{event.device}\n{event.train['batching']} batches"
            )
        elif isinstance(event, SampleReady):
            self._show_samples()
        elif isinstance(event, CheckpointSaved):
            self._saved = f"saved {event.which} @ {event.step:,}"
        elif isinstance(event, Finished):
            self._set_buttons(running=False)
            self.app.sub_title = ""
            what = {"budget": "finished", "stopped": "stopped (resumable)", "diverged": "diverged", "error": "failed"}[event.reason]
            severity = "information" if event.reason in ("budget", "stopped") else "error"
            self.app.notify(f"{what}: {event.steps:,} steps, val loss {fmt_loss(event.val_loss)}" + (f"\n{event.message}" if event.message else ""),
                            severity=severity, timeout=10)
            self.opened_run = None  # the next Start is a new run (open this one to continue it)
            self.query_one("#start", Button).label = "Start"
            self.app.refresh_runs()
        self._show_stats()

    def on_work_failed(self, message: WorkFailed) -> None:
        if message.where != "train":
            return
        self._set_buttons(running=False)
        self.query_one("#train-stats", Static).update(f"[b red]{printable(message.text)}[/]")
        self.app.notify(message.text, severity="error", timeout=10)

    # --- following a run trained elsewhere ---------------------------------------------

    def open_run(self, run: Path) -> None:
        """Show a run's curves; follow it live if another process is training it."""
        self.opened_run = run
        self.run_overrides = {}
        self.history = RunHistory()
        self._chart_version = -1
        follower = ck.MetricsFollower(run / ck.METRICS)
        for record in follower.poll():
            self.history.apply_record(record)
        summary = ck.run_summary(run)
        training_elsewhere = summary is not None and summary["status"] == "training"
        self.follower = follower if training_elsewhere else None
        if summary:
            try:
                ckpt_meta = ck.read_header(ck.find_checkpoint(run, "last" if (run / ck.LAST).is_file() else "auto")).meta
                preset = ckpt_meta.get("preset") or DEFAULT_PRESET
                saved_model = ckpt_meta.get("model", {})
                self.run_overrides = {k: saved_model[k] for k in ("embed", "dropout") if k in saved_model}
                self._fill_form(preset, {**saved_model, **{
                    k: v for k, v in ckpt_meta.get("train", {}).items() if k in ("seq_len", "batch_size", "lr", "max_seconds", "corpus")}})
                select = self.query_one("#preset", Select)
                if preset in self._preset_names:
                    select.value = preset
                self.query_one("#corpus", Input).value = ckpt_meta.get("train", {}).get("corpus", "")
            except ChartuiError:
                pass
        status = summary["status"] if summary else "new"
        self.query_one("#start", Button).label = (
            "Start" if training_elsewhere or not (run / ck.LAST).is_file() else "Continue" if status == "finished" else "Resume")
        self._show_samples()
        self._show_stats()
        self._draw_chart()

    def _tick(self) -> None:
        if self.follower is not None:
            records = self.follower.poll()
            for record in records:
                self.history.apply_record(record)
            if records:
                self._show_stats()
                self._show_samples()
            if self.history.finished is not None:
                self.follower = None
                self.app.refresh_runs()
            elif self.opened_run is not None and not ck.RunLock(self.opened_run).held_elsewhere():
                # The trainer we followed died without finishing (kill -9, out of memory).
                self.follower = None
                self.app.notify(f"{self.opened_run.name} stopped being trained without finishing; Resume continues it",
                                severity="warning", timeout=10)
                self.open_run(self.opened_run)
        self._draw_chart()

    # --- drawing --------------------------------------------------------------------------

    def _draw_chart(self) -> None:
        h = self.history
        if h.version == self._chart_version or not self.is_on_screen:
            return
        self._chart_version = h.version
        xs, ys, ex, ey = h.series(self.axis)
        self.query_one("#train-chart", LossChart).set_lines(
            [("train", xs, ys), ("val", ex, ey)], xlabel="step" if self.axis == "steps" else "characters seen",
            markers=["braille", "dot"],
        )
        self.query_one("#train-spark", Sparkline).data = list(h.recent)

    @property
    def is_on_screen(self) -> bool:
        return self.region.width > 0 and self.display

    def _show_stats(self) -> None:
        h = self.history
        s = h.latest
        if s is None:
            if h.started is None and h.finished is None:
                return
            text = "starting..."
        else:
            eta = s.get("eta")
            if h.finished:
                state = {"budget": "finished", "stopped": "stopped"}.get(h.finished.get("reason"), str(h.finished.get("reason")))
            elif self.follower is not None:
                state = "following"
            elif self.is_training:
                state = "paused" if h.paused else "training"
            else:
                state = "interrupted"
            text = (f"[b]{state}[/]  epoch [b]{s.get('epoch', 0):.2f}[/]  step [b]{int(s['step']):,}[/]  "
                    f"loss [b cyan]{s['loss']:.4f}[/]  val [b green]{fmt_loss(h.val)}[/] (best {fmt_loss(h.best_val)})  "
                    f"[b]{fmt_rate(s.get('chars_per_s'))}[/] chars/s  {fmt_duration(s.get('elapsed'))} elapsed  "
                    f"ETA {fmt_duration(eta) if eta is not None else '--:--'}  [dim]{self._saved}[/]")
        self.query_one("#train-stats", Static).update(text)
        if self.history.version != self._chart_version and len(h.recent) % 10 == 0:
            self.query_one("#train-spark", Sparkline).data = list(h.recent)

    def _show_samples(self) -> None:
        from rich.text import Text

        out = Text()
        for sample in reversed(self.history.samples):
            out.append(f"step {sample.step:,} (epoch {sample.epoch:.2f}, T={sample.temperature})\n", style="bold")
            out.append(printable(sample.text.strip("\n")) + "\n\n")
        self.query_one("#samples-text", Static).update(out)

    # --- shutdown -----------------------------------------------------------------------

    def stop_and_wait(self, timeout: float = 10.0) -> bool:
        """Stop a training run and wait for its final checkpoint (blocking; for quitting).

        Returns True when no training is left running."""
        self._stop_requested = True
        trainer = self.trainer
        if trainer is not None:
            trainer.stop()
        return self._train_done.wait(timeout)
