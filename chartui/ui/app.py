"""The chartui app: five tabs over one engine, keyboard first.

This file holds the frame only: the tabs, app-wide bindings, the command palette, the one
``active_run`` every tab follows (a saved run, or the run being trained here), the "terminal
too small" notice, and quitting safely (a run in training is stopped and checkpointed before
the app exits). Each tab lives in chartui/ui/tabs/ (a ChartuiTab), widgets in
chartui/ui/widgets/, layout and colours in chartui.tcss.
"""

from __future__ import annotations

import asyncio
import dataclasses
import gc
import os
import signal
import sys
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from textual import work
from textual.app import App, ComposeResult, SystemCommand
from textual.binding import Binding
from textual.events import Key, MouseDown, Paste, Resize
from textual.reactive import reactive
from textual.screen import Screen
from textual.theme import Theme
from textual.widgets import Header, Static, TabbedContent, TabPane

from chartui import memory
from chartui.config import DEFAULT_PRESET
from chartui.engine.runs import list_runs, resolve_run
from chartui.errors import ChartuiError
from chartui.settings import Settings, save_setting, settings_path
from chartui.ui.cycles import break_strip_cycles, lazy_strip_caches
from chartui.ui.leaks import release_closed_watchers
from chartui.ui.quiet import Quiet
from chartui.ui.runs import LiveRun, RunHandle, SavedRun
from chartui.ui.screens import ConfirmQuit, HelpScreen, RunPicker
from chartui.ui.tabs.base import ChartuiTab, tab_classes
from chartui.ui.tabs.train import TrainTab
from chartui.ui.widgets.key_bar import KeyBar

MIN_WIDTH, MIN_HEIGHT = 80, 24
# Chores, run at a moment without keys (chartui.ui.quiet), every so many seconds:
TRIM_EVERY = 30.0  # return free heap memory to the system (chartui.memory)
RELEASE_EVERY = 5.0  # release removed widgets Textual still holds (chartui.ui.leaks); settle the heap
COLLECT_EVERY = 15.0  # a full garbage collection, once the heap is settled (CPython then runs none)


class TabsFollowKeys(TabbedContent):
    """The tab on screen changes only when the user picks one. Textual also shows a pane whenever
    a widget inside it takes the focus; with tabs switched quickly, a focus move that landed late
    (the deferred focus of the tab just left, or the hidden tab's widget handing its focus on)
    switched back, and the key seemed lost. Focus that lands in a hidden pane goes to the pane on
    screen instead, and Textual's own handler, which would show the hidden pane, is not run: with
    both, two focus moves crossing in flight (one into a hidden pane, one back to the pane on
    screen) switched the tabs back and forth for good, each switch moving the focus again."""

    def _on_tab_pane_focused(self, event: TabPane.Focused) -> None:
        event.stop()
        event.prevent_default()  # TabbedContent's handler (next in the class order) shows event.tab_pane
        active = self.active_pane
        if active is not None and event.tab_pane is not active:
            active.query_one(ChartuiTab).focus_default()


class ChartuiApp(App[None]):
    """Train character-level language models and watch them learn."""

    CSS_PATH = "chartui.tcss"
    TITLE = "chartui"
    BINDINGS = [
        Binding("ctrl+q", "quit", "Quit", priority=True, id="app.quit"),
        Binding("question_mark", "help", "Help", key_display="?", id="app.help"),
        Binding("ctrl+r", "pick_run", "Pick run", id="app.pick_run"),
        *(Binding(str(n), f"tab_number({n})", f"Tab {n}", show=False, id=f"app.tab_{n}") for n in range(1, 10)),
    ]

    active_run: reactive[RunHandle | None] = reactive(None, always_update=True)
    """The run every tab follows: opened, picked, or the one being trained here."""

    def __init__(
        self,
        *,
        run: str | Path | None = None,
        corpus: str = "shakespeare",
        preset: str = DEFAULT_PRESET,
        overrides: dict[str, Any] | None = None,
        settings: Settings | None = None,
        settle_heap: bool = False,
    ) -> None:
        super().__init__()
        break_strip_cycles()  # drawn lines freed at once, not by full garbage collections
        lazy_strip_caches()  # and the caches no one asks them for never made
        self.settle_heap = settle_heap
        """Freeze the long-lived heap out of the garbage collector's full passes (``chartui
        ui`` does; chartui.memory.settle says why): once the app is up, again once torch is."""
        self._settled = 0  # 1: after start-up; 2: after torch too
        self.quiet = Quiet()
        """When the user last pressed a key; the chores that wait until they stop."""
        self.quiet.add("release", RELEASE_EVERY, self._housekeeping)
        # Not while this app trains: the trainer reuses its free heap pages within the next step,
        # so a trim only hands them back to be faulted in again (chartui.memory.trim says more).
        self.quiet.add("trim", TRIM_EVERY, memory.trim, enabled=lambda: self.live_run is None)
        self.quiet.add("collect", COLLECT_EVERY, gc.collect, enabled=lambda: self._settled > 0)
        self.settings = settings or Settings()
        """The user's settings file (theme, keymap); a theme chosen in the app is saved there."""
        self._theme_ready = False
        self.open_on = Path(run) if run else None
        self.corpus, self.preset, self.overrides = corpus, preset, overrides or {}
        """What the session was started with (``chartui ui --corpus --preset``), for the tabs."""
        self.live_run: LiveRun | None = None
        """The run this app trains now, if any."""
        self.quitting = False
        self._exit_code: int | None = None  # 128 + the signal, when one asked us to leave
        self._tabs_at_exit: list[ChartuiTab] = []
        if "TEXTUAL_ANIMATIONS" not in os.environ:
            # No animations (the tab bar's sliding underline, smooth scrolling): the underline
            # alone cost more CPU than the rest of a tab switch (about 95 of 150 ms, headless),
            # and on a machine that trains at the same time that is the user's next key
            # waiting. TEXTUAL_ANIMATIONS=full brings them back.
            self.animation_level = "none"

    @property
    def current_theme(self) -> Theme:
        # Textual looks the theme up for every line it draws (through ``ansi_theme``), and its
        # lookup parses the name as a list and copies the table of themes each time: some 240
        # lookups, a tenth of a tab switch's drawing. A registered name is one dict lookup here;
        # anything else (a comma-separated list of names) goes the long way.
        theme = getattr(self, "_registered_themes", {}).get(self.theme)
        return theme if theme is not None else super().current_theme

    def compose(self) -> ComposeResult:
        yield Header()
        tabs = tab_classes()
        with TabsFollowKeys(initial=tabs[0].TAB_ID, id="tabs"):
            for n, tab in enumerate(tabs, 1):
                with TabPane(f"{n} {tab.TAB_TITLE}" if n <= 9 else tab.TAB_TITLE, id=tab.TAB_ID):
                    yield tab(id=f"{tab.TAB_ID}-tab")
        yield Static("", id="too-small")
        yield KeyBar()

    def on_mount(self) -> None:
        # Free heap pages go back to the system now and then (the arenas are capped by
        # `chartui ui` before the app starts; chartui.memory says why), and the rest of the
        # upkeep: each chore when it is due and no key came for a moment.
        self.set_interval(1.0, self.quiet.run_due)
        self._apply_settings()
        self._tabs_at_exit = self.tabs  # still reachable after the app has stopped running
        self._tabs_at_exit[0].focus_default()
        self._check_size(self.size.width, self.size.height)
        try:
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGTERM, getattr(signal, "SIGHUP", None)):
                if sig is not None:
                    loop.add_signal_handler(sig, self._on_terminate, sig)
        except (NotImplementedError, RuntimeError, ValueError):
            pass  # not the main thread (tests) or no signal support
        if self.open_on is not None:
            self.open_run(str(self.open_on))
        else:
            runs = list_runs()
            if runs:  # something to generate from and trace at once; the form keeps the preset
                self.active_run = SavedRun(runs[-1].path, chosen=False)

    async def on_event(self, event: Any) -> None:
        if isinstance(event, Key | MouseDown | Paste) and not event.is_forwarded:
            self.quiet.input()  # as it arrives, before it is handled: what it starts counts as recent
        await super().on_event(event)

    def _housekeeping(self) -> None:
        """Every few seconds: let go of removed widgets Textual still holds, and settle the heap
        at most twice, the first time after start-up and the second once torch is loaded
        (training, sampling and tracing load it when first used): from then on a full garbage
        collection pauses the app for about 57 ms instead of over 200, and from the first time on
        the app runs those itself (the ``collect`` chore) at moments without keys."""
        release_closed_watchers(self)
        stage = 2 if "torch" in sys.modules else 1
        if self.settle_heap and stage > self._settled:
            self._settled = stage
            memory.settle()

    # --- the user's settings ---------------------------------------------------------------

    def _apply_settings(self) -> None:
        """The saved theme and keymap; an unknown theme or binding id is reported, not fatal."""
        settings = self.settings
        if settings.theme:
            if settings.theme in self.available_themes:
                self.theme = settings.theme
            else:
                self.notify(
                    f"unknown theme {settings.theme!r} in {settings_path()}; choose one with ctrl+p > Change theme",
                    severity="warning",
                )
        if settings.keymap:
            known = {b.id for b in all_bindings()}
            unknown = sorted(set(settings.keymap) - known)
            if unknown:
                self.notify(
                    f"{settings_path()}: no binding is called {unknown[0]!r}; `chartui keys` lists them", severity="warning"
                )
            self.set_keymap({k: v for k, v in settings.keymap.items() if k in known})
        self._theme_ready = True

    def watch_theme(self, theme: str) -> None:
        if not self._theme_ready or theme == self.settings.theme:
            return
        try:
            save_setting("theme", theme)
            self.settings = dataclasses.replace(self.settings, theme=theme)
        except (OSError, ChartuiError) as exc:
            self.notify(f"the theme could not be saved to {settings_path()}: {exc}", severity="warning")

    # --- tabs and runs ----------------------------------------------------------------------

    @property
    def tabs(self) -> list[ChartuiTab]:
        return list(self.query(ChartuiTab))

    def action_tab(self, name: str) -> None:
        self.query_one("#tabs", TabbedContent).active = name

    def _refocus_active_tab(self) -> None:
        if self.screen.has_class("too-small") or self.focused is not None:
            return
        active = self.query_one("#tabs", TabbedContent).active_pane
        if active is not None:
            active.query_one(ChartuiTab).focus_default()

    def action_tab_number(self, n: int) -> None:
        tabs = self.tabs
        if 1 <= n <= len(tabs):
            self.action_tab(tabs[n - 1].TAB_ID)

    def on_tabbed_content_tab_activated(self, event: TabbedContent.TabActivated) -> None:
        tab = event.pane.query_one(ChartuiTab)
        tab.focus_default()  # its keys work at once, not the tab bar's
        tab.shown()

    def open_run(self, run: str | Path) -> None:
        """Make the run at ``run`` (a path, or a name under checkpoints/) the active run."""
        try:
            path = resolve_run(run)
        except ChartuiError as exc:  # a user-given path: report, do not crash
            self.notify(str(exc), severity="error")
            return
        self.active_run = self.run_handle(path)

    def run_handle(self, path: str | Path) -> RunHandle:
        """The handle for the run at ``path``: the live one if this app trains it."""
        path = Path(path)
        if self.live_run is not None and self.live_run.path == path:
            return self.live_run
        return SavedRun(path)

    def watch_active_run(self, run: RunHandle | None) -> None:
        if run is not None and not run.live:
            self.sub_title = run.name

    def on_train_tab_training_started(self, message: TrainTab.TrainingStarted) -> None:
        self.live_run = message.run
        self.active_run = message.run
        for tab in self.tabs:
            tab.runs_changed()

    def on_train_tab_training_ended(self, message: TrainTab.TrainingEnded) -> None:
        if message.here:
            self.live_run = None
            if message.path is not None:
                self.active_run = SavedRun(message.path)
        for tab in self.tabs:
            tab.runs_changed()

    def action_pick_run(self) -> None:
        def chosen(path: str | None) -> None:
            if path:
                self.open_run(path)

        self.push_screen(RunPicker(live=self.live_run), chosen)

    def action_help(self) -> None:
        self.push_screen(HelpScreen())

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        yield SystemCommand("Pick a run", "Choose the run every tab follows", self.action_pick_run)
        for tab in self.tabs:
            for title, help_text, action in tab.commands():
                yield SystemCommand(title, help_text, lambda t=tab.TAB_ID, a=action: (self.action_tab(t), a()))
        for tab in self.tabs:
            yield SystemCommand(
                f"Go to {tab.TAB_TITLE}", f"Show the {tab.TAB_TITLE} tab", lambda t=tab.TAB_ID: self.action_tab(t)
            )

    # --- size -------------------------------------------------------------------------------

    def on_resize(self, event: Resize) -> None:
        self._check_size(event.size.width, event.size.height)

    def _check_size(self, width: int, height: int) -> None:
        small = width < MIN_WIDTH or height < MIN_HEIGHT
        was_small = self.screen.has_class("too-small")
        self.screen.set_class(small, "too-small")
        if was_small and not small:
            # Hiding the tabs took the focus away; give it back to the tab on screen, so its
            # keys work again as soon as the window is large enough.
            self.call_after_refresh(self._refocus_active_tab)
        if small:
            self.query_one("#too-small", Static).update(
                f"Terminal too small: chartui needs at least {MIN_WIDTH}x{MIN_HEIGHT}, this one is {width}x{height}.\n"
                "Enlarge the window (training, if any, goes on). ctrl+q quits."
            )

    # --- quitting -----------------------------------------------------------------------

    async def action_quit(self) -> None:
        if self.quitting:
            return
        if any(tab.busy for tab in self.tabs):
            self.push_screen(ConfirmQuit(), self._confirmed)
            return
        for tab in self.tabs:
            tab.stop_work()
        self.exit()

    def _confirmed(self, yes: bool | None) -> None:
        if yes:
            self._save_and_exit()

    def _on_terminate(self, sig: int = signal.SIGTERM) -> None:
        """SIGTERM/SIGHUP: no question, save and leave."""
        self._exit_code = 128 + int(sig)
        self._save_and_exit()

    def _save_and_exit(self) -> None:
        if self.quitting:
            return
        self.quitting = True
        self.notify("saving a resumable checkpoint...", timeout=10)
        self._wait_then_exit(self.tabs)

    @work(thread=True, group="quit", exit_on_error=False)
    def _wait_then_exit(self, tabs: list[ChartuiTab]) -> None:
        for tab in tabs:
            tab.stop_work(timeout=10)
        if self._exit_code is not None:
            # After SIGHUP the terminal is gone, and Textual's shutdown can block for ever
            # writing to it; the checkpoint is saved by now, so leave regardless after 5 s.
            watchdog = threading.Timer(5.0, os._exit, args=(self._exit_code,))
            watchdog.daemon = True
            watchdog.start()
        self.call_from_thread(self.exit, return_code=self._exit_code or 0)

    def shutdown(self, timeout: float = 15.0) -> bool:
        """After ``run()`` returns: stop the background work, waiting up to ``timeout`` s for
        each tab's (blocking). True when none is left running."""
        return all([tab.stop_work(timeout=timeout) for tab in self._tabs_at_exit])  # every tab, none skipped


def all_bindings() -> list[Binding]:
    """Every binding of the app, its tabs, widgets and dialogs (each has an id a keymap can use)."""
    from chartui.ui import screens
    from chartui.ui.widgets.gate_view import GateText

    owners: list[Any] = [ChartuiApp, *tab_classes(), GateText, screens.HelpScreen, screens.ConfirmQuit, screens.RunPicker]
    found: dict[str, Binding] = {}
    for owner in owners:
        for b in owner.BINDINGS:
            if isinstance(b, Binding) and b.id and b.id not in found:
                found[b.id] = b
    return list(found.values())
