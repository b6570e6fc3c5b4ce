"""What every tab is: a widget in the app's TabbedContent that follows the app's active run.

A tab reacts to the run changing (``active_run_changed``) and to being brought on screen
(``shown``), and says where the keyboard focus goes inside it (``focus_default``). A tab
never reaches into another tab: what they share is the app's ``active_run``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual.containers import Vertical

if TYPE_CHECKING:
    from chartui.ui.runs import RunHandle


class ChartuiTab(Vertical):
    """Base class of the five tabs."""

    def on_mount(self) -> None:
        self.watch(self.app, "active_run", self.active_run_changed, init=False)

    @property
    def active_run(self) -> RunHandle | None:
        return self.app.active_run  # type: ignore[attr-defined]

    @property
    def on_screen(self) -> bool:
        """True while this tab is the one shown."""
        return self.region.width > 0 and self.display

    def focus_default(self) -> None:
        """Put the keyboard focus where this tab's keys work."""
        self.focus()

    def shown(self) -> None:
        """The user switched to this tab."""

    def active_run_changed(self, run: RunHandle | None) -> None:
        """The app's active run changed (opened, picked, started or finished training)."""

    def runs_changed(self) -> None:
        """Runs on disk changed: one started or finished training."""
