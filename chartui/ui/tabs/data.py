"""The Data tab: a corpus's statistics and its top-30 character histogram, whitespace
highlighted. The corpus loads in a thread worker (building Shakespeare takes a second)."""

from __future__ import annotations

from typing import Any

from rich.table import Table
from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.message import Message
from textual.suggester import SuggestFromList
from textual.widgets import Input, Label, Static

from chartui.display import bar, charset_line, printable
from chartui.engine.corpus import NAMED, corpus_stats, load_corpus
from chartui.errors import ChartuiError
from chartui.paths import shown as shown_path
from chartui.ui.runs import RunHandle
from chartui.ui.tabs.base import ChartuiTab

WHITESPACE = "bold dark_orange"
BAR = "dodger_blue2"


class DataTab(ChartuiTab):
    """Corpus statistics."""

    TAB_ID, TAB_TITLE, TAB_ORDER = "data", "Data", 40

    BINDINGS = [Binding("r", "load", "Reload", id="data.load")]

    class StatsReady(Message, bubble=False):
        """Statistics of the corpus ``spec``, computed in a worker."""

        def __init__(self, spec: str, stats: dict[str, Any]) -> None:
            super().__init__()
            self.spec = spec
            self.stats = stats

    class LoadFailed(Message, bubble=False):
        """The corpus ``spec`` could not be read; ``text`` is for the user."""

        def __init__(self, spec: str, text: str) -> None:
            super().__init__()
            self.spec = spec
            self.text = text

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.loaded_for: str | None = None
        self.stats: dict | None = None

    def compose(self) -> ComposeResult:
        with Horizontal(id="data-top"):
            yield Label("Corpus")
            yield Input(
                getattr(self.app, "corpus", "shakespeare"), id="data-corpus", compact=True, suggester=SuggestFromList(NAMED)
            )
        with Horizontal(id="data-body"):
            with VerticalScroll(id="data-left"):
                yield Static("", id="data-summary")
            with VerticalScroll(id="data-right"):
                yield Static("", id="data-histogram")

    def focus_default(self) -> None:
        self.query_one("#data-right").focus()

    def shown(self) -> None:
        if self.loaded_for is None:
            self.action_load()

    def active_run_changed(self, run: RunHandle | None) -> None:
        """Describe the corpus of the run just opened: now if this tab is on screen, else when
        it is next shown."""
        if run is None or not run.chosen:
            return
        try:
            spec = run.info.train.corpus
        except ChartuiError:
            return  # a run whose description cannot be read: keep showing what we show
        if not spec or spec == self.loaded_for:
            return
        self.query_one("#data-corpus", Input).value = spec
        self.loaded_for = None
        if self.on_screen:
            self.action_load()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input.id == "data-corpus":
            self.action_load()

    def action_load(self) -> None:
        spec = self.query_one("#data-corpus", Input).value.strip() or "shakespeare"
        self.loaded_for = spec
        self.query_one("#data-summary", Static).update(f"loading {printable(spec)}...")
        self._load(spec)

    @work(thread=True, group="data", exclusive=True, exit_on_error=False)
    def _load(self, spec: str) -> None:
        try:
            stats = corpus_stats(load_corpus(spec))
        except Exception as exc:  # a ChartuiError (bad input) or a bug: reported in the app, never fatal
            self.post_message(
                self.LoadFailed(spec, str(exc) if isinstance(exc, ChartuiError) else f"could not read the corpus: {exc!r}")
            )
            return
        self.post_message(self.StatsReady(spec, stats))

    def on_data_tab_stats_ready(self, message: StatsReady) -> None:
        if message.spec != self.loaded_for:
            return  # a corpus asked for earlier, finished after a newer one was asked for
        s = self.stats = message.stats
        charset = charset_line(s["charset"])
        summary = Text()
        summary.append(f"{s['name']}\n", style="bold cyan")
        summary.append(f"{printable(shown_path(s['source']))}\n\n", style="dim")
        summary.append(f"characters  {s['chars']:,}\nvocabulary  {s['vocab_size']} distinct\n")
        summary.append("whitespace  ")
        summary.append(f"{s['whitespace_share'] * 100:.1f}%", style=WHITESPACE)
        summary.append(f" (space + newline {s['space_newline_share'] * 100:.1f}%)\n")
        if s["files"]:
            summary.append(f"files       {len(s['files'])} read, {len(s['skipped'])} skipped\n")
        summary.append("\ncharacter set\n", style="bold")
        summary.append(printable(charset) + "\n\n", style="green")
        summary.append("sample passage\n", style="bold")
        summary.append(printable(s["sample"]))
        self.query_one("#data-summary", Static).update(summary)
        table = Table(box=None, show_header=False, padding=(0, 1), title=f"Top {len(s['top'])} characters", title_justify="left")
        table.add_column(justify="right")
        table.add_column()
        table.add_column(justify="right")
        peak = s["top"][0]["share"] if s["top"] else 1.0
        for row in s["top"]:
            style = WHITESPACE if row["whitespace"] else BAR
            table.add_row(
                Text(printable(row["label"]), style=WHITESPACE if row["whitespace"] else ""),
                Text(bar(row["share"] / peak, 24, ascii_only=self.app.no_color), style=style),
                f"{row['share'] * 100:.1f}%",
            )
        self.query_one("#data-histogram", Static).update(table)

    def on_data_tab_load_failed(self, message: LoadFailed) -> None:
        if message.spec != self.loaded_for:
            return
        self.query_one("#data-summary", Static).update(Text(message.text, style="red"))
