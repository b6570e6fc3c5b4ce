"""Modal screens: help, the quit confirmation while training, and the run picker."""

from __future__ import annotations

from typing import Any

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Label, Markdown, OptionList
from textual.widgets.option_list import Option

from chartui.display import fmt_loss
from chartui.engine.runs import list_runs

HELP = """\
# chartui keys

**Everywhere**: `1`-`5` switch tabs, `ctrl+r` pick a run, `ctrl+p` command palette,
`?` this help, `ctrl+q` quit (asks first while training, then saves a resumable checkpoint).

**Train**: `s` start (or resume an opened run), `p` pause/resume, `x` stop (saves),
`c` chart against steps or characters seen, `m` smoothing (none/EMA), `l` log scale.
Edit the form first; the preset fills it. Fine-tune from another run: `ctrl+p` > Fine-tune.

**Generate**: `+`/`-` temperature, `g` greedy, `k` top-k, `p` top-p, `r` regenerate (same seed),
`n` new seed, `space` pause/go, `[`/`]` slower/faster, `o` colour each character by its
probability, `t` the same prompt at three temperatures, `a` across runs of each architecture,
`b` beam search (the likeliest text), `w` write what is shown to a file in exports/.
Edit the prompt and press enter; `\\n` is a newline.

**Gates**: `←`/`→` move along the text, `↑`/`↓` unit, `g` gate, `l` layer, `n` next
interesting unit, `e` edit the passage (`escape` to leave), `t` trace again, `x` export the
trace (JSON) and the view (SVG) to exports/. Enter on a ranked unit shows it.

**Data**: type a corpus (a name or a path) and press enter; `r` reloads.

**Compare**: `enter` opens a run, `space` adds or removes it from the chart,
`v` train or validation curves, `r` refresh.

Keys can be remapped in the settings file (`chartui keys` lists every binding's id); the theme
chosen with `ctrl+p` > Change theme is kept there too.

Slow link? Start with `TEXTUAL_FPS=10 chartui`. No colour? `NO_COLOR=1 chartui` shades the gates.
"""


class HelpScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,question_mark,q", "dismiss", "Close", id="help.dismiss")]

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help-box"):
            yield Markdown(HELP)
            yield Label("escape closes", classes="dim")


class ConfirmQuit(ModalScreen[bool]):
    """Asked when quitting while a run trains."""

    BINDINGS = [
        Binding("y,enter", "answer(True)", "Save and quit", id="quit_dialog.yes"),
        Binding("n,escape", "answer(False)", "Keep training", id="quit_dialog.no"),
    ]

    def compose(self) -> ComposeResult:
        with Vertical(id="confirm-box"):
            yield Label("A run is training.", classes="title")
            yield Label(
                "Quit now? It saves a resumable checkpoint first (continue later with `chartui ui RUN` or `chartui train --resume RUN`)."
            )
            yield Label("y / enter: save and quit      n / escape: keep training", classes="dim")

    def action_answer(self, value: bool) -> None:
        self.dismiss(value)


class RunPicker(ModalScreen[str | None]):
    """Choose the run every tab follows; dismisses with its path."""

    BINDINGS = [Binding("escape", "dismiss_none", "Cancel", id="run_picker.dismiss_none")]

    def __init__(self, live: Any = None) -> None:
        super().__init__()
        self.live = live

    def compose(self) -> ComposeResult:
        options = []
        if self.live is not None:
            options.append(Option(f"the model training now ({self.live.name})", id=str(self.live.path)))
        for r in reversed(list_runs()):
            if self.live is None or r.path != self.live.path:
                options.append(
                    Option(f"{r.name}   {r.label}   best val {fmt_loss(r.progress.best_val_loss)}   {r.status}", id=str(r.path))
                )
        with Vertical(id="picker-box"):
            yield Label("Pick a run (enter)", classes="title")
            if options:
                yield OptionList(*options, id="picker-list")
            else:
                yield Label("No runs yet: start one in the Train tab (s).")

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(event.option.id)

    def action_dismiss_none(self) -> None:
        self.dismiss(None)
