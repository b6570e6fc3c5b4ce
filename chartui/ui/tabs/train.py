"""The Train tab: pick a corpus and preset, edit the shape and budget, start, pause, resume,
stop; watch the loss chart, the stats line and the samples arrive.

Training runs in a thread worker that iterates the engine's Trainer and posts its events in
messages (steps in batches, ten times a second); the handlers, on the UI thread, record them
in a RunHistory and redraw. A run trained elsewhere (``chartui train`` in another tmux pane)
is followed through its metrics.jsonl instead.
"""

from __future__ import annotations

import contextvars
import re
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Grid, Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.suggester import SuggestFromList
from textual.widgets import Button, Input, Label, Select, Sparkline, Static
from textual.worker import get_current_worker

from chartui.config import ARCHS, DEFAULT_PRESET, ModelConfig, apply_overrides, build_configs, list_presets, load_preset, to_dict
from chartui.display import finished_word, fmt_bytes, fmt_duration, fmt_loss, fmt_rate, params_parts, printable
from chartui.engine.corpus import NAMED
from chartui.engine.events import CheckpointSaved, Event, Finished, PromptReplaced, SampleReady, Started, StepDone
from chartui.engine.metrics import MetricsFollower
from chartui.engine.runs import LAST, Run
from chartui.errors import ChartuiError, ConfigError
from chartui.priority import lower_this_thread
from chartui.ui.history import RunHistory
from chartui.ui.runs import LiveRun, RunHandle
from chartui.ui.tabs.base import ChartuiTab
from chartui.ui.widgets.live_text import LiveText
from chartui.ui.widgets.loss_chart import SMOOTHING, LossChart

# Form fields: (id, label, kind). Numbers are checked by the config's own rules on Start.
FIELDS = [
    ("layers", "Layers", int),
    ("hidden", "Hidden", int),
    ("seq_len", "Seq len", int),
    ("batch_size", "Batch", int),
    ("lr", "LR", float),
    ("max_seconds", "Budget s", float),
]
# A space outside markup tags ("[b cyan]" keeps its own): a status phrase joins its words with
# non-breaking spaces so a narrow screen wraps between phrases only.
_KEEP_TOGETHER = re.compile(r" (?![^\[]*\])")
# Every cycle the UI spends drawing is taken from training on a small CPU: the numbers refresh
# ten times a second and the chart (the costly part) twice, which reads as live to a person.
POST_EVERY = 1 / 10
CHART_EVERY = 0.5


class TrainTab(ChartuiTab, can_focus=True):
    """Everything about training one run (focusable, so its keys work outside the form)."""

    TAB_ID, TAB_TITLE, TAB_ORDER = "train", "Train", 10

    BINDINGS = [
        Binding("s", "start", "Start/resume", id="train.start"),
        Binding("p", "pause", "Pause", id="train.pause"),
        Binding("x", "stop", "Stop", id="train.stop"),
        Binding("c", "toggle_axis", "Steps/chars", id="train.toggle_axis"),
        Binding("m", "smoothing", "Smoothing", id="train.smoothing"),
        Binding("l", "log_scale", "Log scale", show=False, id="train.log_scale"),
    ]

    class StepsDone(Message, bubble=False):
        """Steps the worker's trainer finished since the last of these."""

        def __init__(self, steps: list[StepDone]) -> None:
            super().__init__()
            self.steps = steps

    class EngineEvent(Message, bubble=False):
        """Any other trainer event (started, eval, sample, checkpoint, paused, finished)."""

        def __init__(self, event: Event) -> None:
            super().__init__()
            self.event = event

    class TrainerReady(Message, bubble=False):
        """The worker built its trainer (corpus loaded, model made); training begins."""

        def __init__(self, trainer: Any) -> None:
            super().__init__()
            self.trainer = trainer

    class Failed(Message, bubble=False):
        """Training could not start or stopped on an error; ``text`` is for the user."""

        def __init__(self, text: str) -> None:
            super().__init__()
            self.text = text

    class Notice(Message, bubble=False):
        """Something the worker wants the user to know (not an error)."""

        def __init__(self, text: str) -> None:
            super().__init__()
            self.text = text

    class WorkerDone(Message, bubble=False):
        """The training worker has ended; always its last message."""

    class TrainingStarted(Message):
        """For the app: this tab trains ``run`` now."""

        def __init__(self, run: LiveRun) -> None:
            super().__init__()
            self.run = run

    class TrainingEnded(Message):
        """For the app: a run stopped training; ``here`` if this app trained it (then ``path``
        is None when it never began), else it is a run another process trained and we followed."""

        def __init__(self, path: Path | None, *, here: bool) -> None:
            super().__init__()
            self.path = path
            self.here = here

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        # What the form edits: a preset's tables, or the settings of the opened run. The
        # fields override it; everything the form has no field for comes from here.
        self.base: tuple[dict[str, Any], dict[str, Any]] = ({}, {})
        # When the base is a preset: (its name, the session's overrides). A new run from it is
        # built for this machine (its fp32 variant where bf16 is slower), with the form's changes.
        self.base_preset: tuple[str, dict[str, Any]] | None = None
        self.history = RunHistory()
        self.trainer: Any = None  # the engine Trainer while one runs in this app (set on the UI thread)
        self.follower: MetricsFollower | None = None  # a run trained by another process
        self.opened: Run | None = None
        self.axis = "steps"
        self._chart_version = -1
        self._stats_stale = False  # the stats line is behind: updates came while hidden, or during keys
        self._ticked_at = float("-inf")  # when the last tick redrew (the app's quiet clock)
        self._saved = ""
        self._in_training = False
        self._train_done = threading.Event()  # for other threads: set when the worker has ended
        self._train_done.set()
        self._stop_requested = threading.Event()
        self._just_trained: Path | None = None  # the app makes it the active run; no need to reopen it
        self.init_from: Path | None = None
        """The run the next Start fine-tunes from (chosen with "Fine-tune from a run..."), if any."""

    # --- layout -------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        # What the app was started with: chartui ui --corpus ... --preset ...
        self.initial_corpus: str = getattr(self.app, "corpus", "shakespeare")
        self.initial_preset: str = getattr(self.app, "preset", DEFAULT_PRESET)
        self.initial_overrides: dict[str, Any] = getattr(self.app, "overrides", {})
        presets = self._preset_names = [p.name for p in list_presets()]
        if self.initial_preset not in presets:  # a preset given as a .toml path
            presets = self._preset_names = [*presets, self.initial_preset]
        with Horizontal():
            with VerticalScroll(id="train-form"):
                with Grid(id="train-grid"):
                    yield Label("Corpus")
                    yield Input(
                        self.initial_corpus,
                        id="corpus",
                        compact=True,
                        suggester=SuggestFromList(NAMED),
                        tooltip="shakespeare, tinyshakespeare, or a path",
                    )
                    yield Label("Preset")
                    yield Select(
                        [(Path(p).stem, p) for p in presets],
                        value=self.initial_preset,
                        allow_blank=False,
                        id="preset",
                        compact=True,
                    )
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
                yield LiveText("Press s to train the preset on the corpus.", id="train-stats")
                yield LossChart(title="loss (nats/char)", id="train-chart")
                yield Sparkline([], id="train-spark")
                yield Label("Samples as training goes", classes="section")
                with VerticalScroll(id="train-samples"):
                    yield Static("", id="samples-text")

    def on_mount(self) -> None:
        super().on_mount()
        self._use_preset(self.initial_preset, self.initial_overrides)
        self.set_interval(CHART_EVERY, self._tick)

    # --- the form -----------------------------------------------------------------------

    def _use_preset(self, name: str, overrides: dict[str, Any] | None = None) -> None:
        """Make the preset (with ``overrides``) what the form edits."""
        try:
            preset = load_preset(name)
            model, train = build_configs(preset, overrides)
        except ChartuiError as exc:
            self.app.notify(str(exc), severity="error")
            return
        self.base = (to_dict(model), to_dict(train))
        self.base_preset = (name, dict(overrides or {}))
        self._fill_form(model, train.corpus if overrides and "corpus" in overrides else None)

    def _fill_form(self, model: ModelConfig, corpus: str | None = None) -> None:
        values = {**self.base[0], **self.base[1]}
        self.query_one("#arch", Select).value = model.arch
        for field_id, _, _ in FIELDS:
            value = values.get(field_id)
            self.query_one(f"#{field_id}", Input).value = (
                "" if value is None else f"{value:g}" if isinstance(value, float) else str(value)
            )
        if corpus:
            self.query_one("#corpus", Input).value = corpus
        total, parts = params_parts(model.param_breakdown(65))
        self.query_one("#train-params", Static).update(f"~{total} for 65 chars\n({parts})")

    def on_select_changed(self, event: Select.Changed) -> None:
        # Only a user's choice refills the form (not opening a run, which sets the fields itself).
        if event.select.id == "preset" and event.value is not Select.BLANK and event.select.has_focus:
            self._use_preset(str(event.value))

    def _form_changes(self) -> dict[str, Any]:
        """The form's values that differ from what it was filled with; ChartuiError if a field
        is malformed."""
        values = self._form_values()
        base = {**self.base[0], **self.base[1]}
        return {k: v for k, v in values.items() if base.get(k) != v}

    def _form_configs(self) -> tuple[str, Any, Any]:
        """(preset name, ModelConfig, TrainConfig) from the form over its base; ChartuiError if
        a field is malformed or a setting out of range."""
        model, train = apply_overrides(*self.base, self._form_values())
        return str(self.query_one("#preset", Select).value), model, train

    def _form_values(self) -> dict[str, Any]:
        values: dict[str, Any] = {
            "corpus": self.query_one("#corpus", Input).value.strip() or "shakespeare",
            "arch": self.query_one("#arch", Select).value,
        }
        for field_id, label, kind in FIELDS:
            text = self.query_one(f"#{field_id}", Input).value.strip()
            if not text:
                continue
            try:
                values[field_id] = kind(text)
            except ValueError:
                raise ConfigError(f"{label} must be {'a whole number' if kind is int else 'a number'} (got {text!r})") from None
        return values

    # --- control ------------------------------------------------------------------------

    @property
    def is_training(self) -> bool:
        """True from Start until this tab has handled the run's end (loading the corpus
        included). Kept on the UI thread, so no Start can slip in before the last run's
        final messages are handled; other threads wait on ``stop_and_wait``."""
        return self._in_training

    def action_start(self) -> None:
        if self.is_training:
            if self.trainer is not None and self.trainer.paused:
                self.action_pause()
            return
        if self.follower is not None:
            self.app.notify("this run is being trained by another process; the chart follows it", severity="warning")
            return
        try:
            preset, model, train = self._form_configs()  # checked here, so bad values are reported at once
            resume = None if self.init_from else self._resumable(model, train)
            recipe = (self.base_preset[0], {**self.base_preset[1], **self._form_changes()}) if self.base_preset else None
            if self.init_from is not None:  # fine-tune: the form's settings over the source's shape
                recipe = ("", {**self._form_changes(), "__init_from": str(self.init_from)})
        except ChartuiError as exc:
            self.app.notify(str(exc), severity="error", timeout=8)
            return
        self._stop_requested.clear()
        self.history = RunHistory()
        self._chart_version = -1
        self.query_one("#samples-text", Static).update("")
        self._set_buttons(running=True)
        self._in_training = True
        self._train_done.clear()
        self.query_one("#train-stats", Static).update("loading the corpus and building the model...")
        self._train(model, train, preset, resume, recipe)

    def _resumable(self, model: Any, train: Any) -> Run | None:
        """The opened run, when the form still describes it (Start continues it); None when the
        user changed its shape or corpus, or it cannot be resumed (Start begins a new run)."""
        if self.opened is None or not self.opened.file(LAST).is_file():
            return None
        try:
            plan = self.opened.plan_resume(model, train, extend=True)
        except ChartuiError as exc:
            self.app.notify(f"{self.opened.name} cannot be continued ({exc}); starting a new run", severity="warning", timeout=8)
            return None
        return self.opened if plan.resumable else None

    def action_fine_tune(self) -> None:
        """Pick the run to start from; the next Start trains a new run from its weights."""
        from chartui.ui.screens import RunPicker

        if self.is_training:
            self.app.notify("a run is training; stop it first", severity="warning")
            return

        def chosen(path: str | None) -> None:
            if not path:
                return
            try:
                info = Run.open(path).info
            except ChartuiError as exc:
                self.app.notify(str(exc), severity="error", timeout=8)
                return
            self.init_from, self.opened, self.follower = Path(path), None, None
            self.base = (to_dict(info.model), self.base[1] or to_dict(info.train))
            self._fill_form(info.model)
            self.query_one("#start", Button).label = "Fine-tune"
            self.query_one("#train-stats", Static).update(
                f"fine-tuning from [b]{printable(Path(path).name)}[/] ({info.label}): set the corpus to the new text, "
                "then press s. Its shape stays; the optimizer and schedule start fresh; new characters get new rows."
            )
            self.query_one("#corpus", Input).focus()

        self.app.push_screen(RunPicker(), chosen)

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
        self._stop_requested.set()  # reaches a trainer still being built, too
        if self.trainer is not None:
            self.trainer.stop()
        self.query_one("#train-stats", Static).update("stopping: saving a resumable checkpoint...")

    def action_toggle_axis(self) -> None:
        self.axis = "chars" if self.axis == "steps" else "steps"
        self._chart_version = -1
        self._draw_chart()

    def action_smoothing(self) -> None:
        """Cycle the train curve's smoothing: none, EMA."""
        chart = self.query_one("#train-chart", LossChart)
        chart.set_view(smoothing=SMOOTHING[(SMOOTHING.index(chart.smoothing) + 1) % len(SMOOTHING)])

    def action_log_scale(self) -> None:
        chart = self.query_one("#train-chart", LossChart)
        chart.set_view(log_scale=not chart.log_scale)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        {"start": self.action_start, "pause": self.action_pause, "stop": self.action_stop}[event.button.id or ""]()

    def _set_buttons(self, *, running: bool) -> None:
        self.query_one("#start", Button).disabled = running
        self.query_one("#pause", Button).disabled = not running
        self.query_one("#stop", Button).disabled = not running
        self.query_one("#pause", Button).label = "Pause"
        for widget in self.query("#train-grid Input, #train-grid Select"):
            widget.disabled = running

    def commands(self) -> Iterable[tuple[str, str, Callable[[], object]]]:
        yield "Start training", "Train the form's preset on its corpus (or continue the opened run)", self.action_start
        yield (
            "Fine-tune from a run...",
            "A new run that starts from another run's weights, on the form's corpus",
            self.action_fine_tune,
        )
        yield "Pause or resume training", "Hold the trainer between steps", self.action_pause
        yield "Stop training", "Stop and save a resumable checkpoint", self.action_stop

    @property
    def busy(self) -> bool:
        return self.is_training

    def stop_work(self, timeout: float = 0.0) -> bool:
        return self.stop_and_wait(timeout)

    def stop_and_wait(self, timeout: float = 10.0) -> bool:
        """Stop a training run and wait for its final checkpoint (blocking; any thread).
        Returns True when no training is left running."""
        self._stop_requested.set()
        trainer = self.trainer
        if trainer is not None:
            trainer.stop()
        return self._train_done.wait(timeout)

    # --- the worker ---------------------------------------------------------------------

    @work(thread=True, group="train", exit_on_error=False)
    def _train(self, model: Any, train: Any, preset: str, resume: Run | None, recipe: tuple[str, dict] | None) -> None:
        # Training runs in a thread of its own, below the UI thread's priority (chartui/priority.py):
        # Textual's thread workers come from a shared pool, and a lowered thread stays lowered.
        context = contextvars.copy_context()  # get_current_worker() answers in there too
        args = (model, train, preset, resume, recipe)
        thread = threading.Thread(target=context.run, args=(self._train_below_ui, *args), name="chartui-train")
        try:
            thread.start()
            thread.join()
        finally:
            self._train_done.set()
            self.post_message(self.WorkerDone())

    def _train_below_ui(self, model: Any, train: Any, preset: str, resume: Run | None, recipe: tuple[str, dict] | None) -> None:
        lower_this_thread()  # before torch starts its worker threads from this one: they inherit it
        try:
            self._run_trainer(model, train, preset, resume, recipe)
        except Exception as exc:  # a ChartuiError (bad input) or a bug: say so in the app, do not die silently
            self.post_message(
                self.Failed(str(exc) if isinstance(exc, ChartuiError) else f"training failed unexpectedly: {exc!r}")
            )

    def _run_trainer(self, model: Any, train: Any, preset: str, resume: Run | None, recipe: tuple[str, dict] | None) -> None:
        """Build the trainer and iterate it, posting what it reports (worker thread)."""
        from chartui.engine.precision import configs_for_machine
        from chartui.engine.train import Trainer

        worker = get_current_worker()
        if resume is not None:
            trainer = Trainer.resume(resume.path, {**to_dict(model), **to_dict(train)}, extend=True)
        elif recipe is not None and "__init_from" in recipe[1]:
            from chartui.engine import finetune
            from chartui.engine.corpus import load_corpus

            changes = {k: v for k, v in recipe[1].items() if k != "__init_from"}
            corpus = load_corpus(train.corpus)
            source = finetune.open_source(recipe[1]["__init_from"], corpus.vocab, extend=True)
            model = finetune.model_config(source, model, changes)
            trainer = Trainer.new(model, train, preset=preset, corpus=corpus, init_from=source)
            if source.added:
                self.post_message(self.Notice(f"fine-tuning: added {len(source.added)} new character(s) to the vocabulary"))
        else:
            if recipe is not None:  # the preset as this machine trains it (may measure bf16 once)
                model, train = configs_for_machine(load_preset(recipe[0]), recipe[1])
            trainer = Trainer.new(model, train, preset=preset)
        trainer.keep_threads()  # this thread runs below the UI (lower_this_thread); see keep_threads
        self.post_message(self.TrainerReady(trainer))
        steps: list[StepDone] = []
        last_post = 0.0
        for event in trainer:
            if (worker.is_cancelled or self._stop_requested.is_set()) and not trainer.stopping:
                trainer.stop()  # Stop, or the app is closing: save and finish
            if isinstance(event, StepDone):
                steps.append(event)
                if time.monotonic() - last_post < POST_EVERY:
                    continue
                last_post = time.monotonic()
            if steps:
                self.post_message(self.StepsDone(steps))
                steps = []
            if not isinstance(event, StepDone):
                self.post_message(self.EngineEvent(event))

    # --- messages from the worker (UI thread) -------------------------------------------------

    def on_train_tab_notice(self, message: Notice) -> None:
        self.app.notify(message.text, timeout=8)

    def on_train_tab_worker_done(self, message: WorkerDone) -> None:
        if self._in_training:  # ended without a Finished or Failed (it never does; this is the net)
            self._training_ended(Path(self.history.run) if self.history.run else None)

    def on_train_tab_trainer_ready(self, message: TrainerReady) -> None:
        self.trainer = message.trainer
        if self._stop_requested.is_set():  # Stop or quit came while the corpus was loading
            message.trainer.stop()
        self.post_message(self.TrainingStarted(LiveRun(message.trainer)))

    def on_train_tab_steps_done(self, message: StepsDone) -> None:
        for step in message.steps:
            self.history.apply(step)
        self._stats_changed()

    def on_train_tab_engine_event(self, message: EngineEvent) -> None:
        event = message.event
        self.history.apply(event)
        if isinstance(event, Started):
            self.app.sub_title = f"training {Path(event.run).name}"
            total, parts = params_parts(event.info.params)
            self.query_one("#train-params", Static).update(
                f"{total}\n({parts})\n{event.device}, {event.info.precision}\n{event.info.train.batching} batches"
            )
        elif isinstance(event, PromptReplaced):
            self.app.notify(event.message, severity="warning", timeout=10)
        elif isinstance(event, SampleReady):
            self._show_samples()
        elif isinstance(event, CheckpointSaved):
            self._saved = f"saved {event.which} @ {event.step:,}"
        elif isinstance(event, Finished):
            self._training_ended(Path(event.run))
            severity = "information" if event.reason in ("budget", "stopped") else "error"
            self.app.notify(
                f"{finished_word(event.reason)}: {event.steps:,} steps, val loss {fmt_loss(event.val_loss)}"
                + (f"\n{event.message}" if event.message else ""),
                severity=severity,
                timeout=10,
            )
        self._stats_changed()

    def on_train_tab_failed(self, message: Failed) -> None:
        self._training_ended(Path(self.history.run) if self.history.run else None)
        self._stats_stale = False  # the error stays on the line until something new happens
        self.query_one("#train-stats", LiveText).update(f"[b red]{printable(message.text)}[/]")
        self.app.notify(message.text, severity="error", timeout=10)

    def _training_ended(self, path: Path | None) -> None:
        self._in_training = False
        self.trainer = None
        self._set_buttons(running=False)
        self.app.sub_title = ""
        self.opened = None  # the next Start is a new run (open this one to continue it)
        self.init_from = None
        self._just_trained = path
        self.query_one("#start", Button).label = "Start"
        self.post_message(self.TrainingEnded(path, here=True))

    # --- the active run -----------------------------------------------------------------

    def active_run_changed(self, run: RunHandle | None) -> None:
        just_trained, self._just_trained = self._just_trained, None
        if run is not None and run.chosen and not run.live and not self.is_training and run.path != just_trained:
            self.open_run(Run(run.path))

    def open_run(self, run: Run) -> None:
        """Show a run's curves and settings; follow it live if another process trains it."""
        self.opened = run
        self.history = RunHistory()
        self._chart_version = -1
        follower = run.follow()
        for record in follower.poll():
            self.history.apply_record(record)
        summary = run.summary()
        training_elsewhere = summary is not None and summary.status == "training"
        self.follower = follower if training_elsewhere else None
        if summary is not None and summary.info is not None:
            info = summary.info
            self.base = (to_dict(info.model), to_dict(info.train))
            self.base_preset = None
            self._fill_form(info.model, info.train.corpus)
            select = self.query_one("#preset", Select)
            if info.preset in self._preset_names:
                select.value = info.preset
        status = summary.status if summary else "new"
        has_last = run.file(LAST).is_file()
        self.query_one("#start", Button).label = (
            "Start" if training_elsewhere or not has_last else "Continue" if status == "finished" else "Resume"
        )
        self._show_samples()
        self._show_stats()
        self._draw_chart()

    def shown(self) -> None:
        if self._stats_stale:
            self._show_stats()  # the chart follows at the next tick

    def _stats_changed(self) -> None:
        """What the stats line says has changed (ten times a second while training): show it
        now, or once the tab is on screen again, or a moment after the user's last key
        (chartui.ui.quiet: the key's answer first)."""
        if self.on_screen and not self.app.quiet.recent():  # type: ignore[attr-defined]
            self._show_stats()
        else:
            self._stats_stale = True

    def _tick(self) -> None:
        if not self.app.quiet.may_redraw(self._ticked_at):  # type: ignore[attr-defined]
            return  # a key is being answered: the run's news waits a beat
        self._ticked_at = self.app.quiet.clock()  # type: ignore[attr-defined]
        if self._stats_stale and self.on_screen:
            self._show_stats()
        if self.follower is not None and self.opened is not None:
            records = self.follower.poll()
            for record in records:
                self.history.apply_record(record)
            if records:
                self._show_stats()
                self._show_samples()
            if self.history.finished is not None:
                self.follower = None
                self.post_message(self.TrainingEnded(self.opened.path, here=False))
            elif not self.opened.training_elsewhere():
                # The trainer we followed died without finishing (kill -9, out of memory).
                self.follower = None
                self.app.notify(
                    f"{self.opened.name} stopped being trained without finishing; Resume continues it",
                    severity="warning",
                    timeout=10,
                )
                self.open_run(self.opened)
        self._draw_chart()

    # --- drawing --------------------------------------------------------------------------

    def _draw_chart(self) -> None:
        h = self.history
        if h.version == self._chart_version or not self.on_screen:
            return
        self._chart_version = h.version
        xs, ys, ex, ey = h.series(self.axis)
        self.query_one("#train-chart", LossChart).set_lines(
            [("train", xs, ys), ("val", ex, ey)],
            xlabel="step" if self.axis == "steps" else "characters seen",
            markers=["braille", "dot"],
        )
        self.query_one("#train-spark", Sparkline).data = list(h.recent)

    def _show_stats(self) -> None:
        self._stats_stale = False
        h = self.history
        s = h.latest
        if s is None:
            if h.started is None and h.finished is None:
                return
            text = "starting..."
        else:
            if h.finished:
                state = finished_word(h.finished.get("reason")).split(" (")[0]
            elif self.follower is not None:
                state = "following"
            elif self.is_training:
                state = "paused" if h.paused else "training"
            else:
                state = "interrupted"
            eta = s.get("eta")
            parts = [
                f"[b]{state}[/]",
                f"epoch [b]{s.get('epoch', 0):.2f}[/]",
                f"step [b]{int(s['step']):,}[/]",
                f"loss [b cyan]{s['loss']:.4f}[/]",
                f"val [b green]{fmt_loss(h.val)}[/] (best {fmt_loss(h.best_val)})",
                f"[b]{fmt_rate(s.get('chars_per_s'))}[/] chars/s",
                f"{fmt_duration(s.get('elapsed'))} elapsed",
                f"ETA {fmt_duration(eta) if eta is not None else '--:--'}",
                self._device_text(s),
                f"[dim]{self._saved}[/]",
            ]
            # A narrow screen wraps the line between phrases, never inside one ("0:20 / elapsed").
            text = "  ".join(_KEEP_TOGETHER.sub("\u00a0", p) for p in parts if p)
        self.query_one("#train-stats", LiveText).show(text)
        if len(h.recent) % 10 == 0:
            self.query_one("#train-spark", Sparkline).data = list(h.recent)

    def _device_text(self, step: dict[str, Any]) -> str:
        """Where it trains: ``cpu (2 threads)``, or the GPU's name and the memory it holds."""
        started = self.history.started or {}
        device = str(started.get("device") or "")
        threads = self.history.threads
        if threads is not None:  # changed since the start: other processes took cores, or gave them back
            device = re.sub(r"\(\d+ threads?\)", f"({threads} thread{'s' if threads != 1 else ''})", device)
        memory = step.get("device_memory")
        return f"{printable(device)}{f' [b]{fmt_bytes(memory)}[/]' if isinstance(memory, int) else ''}" if device else ""

    def _show_samples(self) -> None:
        from rich.text import Text

        out = Text()
        for sample in reversed(self.history.samples):
            out.append(f"step {sample.step:,} (epoch {sample.epoch:.2f}, T={sample.temperature})\n", style="bold")
            out.append(printable(sample.text.strip("\n")) + "\n\n")
        self.query_one("#samples-text", Static).update(out)
