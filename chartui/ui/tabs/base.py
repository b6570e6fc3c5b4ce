"""What every tab is: a widget in the app's TabbedContent that follows the app's active run.

A tab declares where it sits (``TAB_ID``, ``TAB_TITLE``, ``TAB_ORDER``), reacts to the run
changing (``active_run_changed``), to runs on disk changing (``runs_changed``) and to being
brought on screen (``shown``), and says where the keyboard focus goes inside it
(``focus_default``). It never reaches into another tab: what they share is the app's
``active_run``. Every module in chartui/ui/tabs/ that defines a ChartuiTab with a ``TAB_ID``
adds a tab (and its number key): adding a tab is adding a file.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, ClassVar

from textual.containers import Vertical

if TYPE_CHECKING:
    from chartui.ui.runs import RunHandle


class ChartuiTab(Vertical):
    """Base class of the app's tabs."""

    TAB_ID: ClassVar[str] = ""
    """The tab's id (``train``); a subclass without one is not a tab of its own."""
    TAB_TITLE: ClassVar[str] = ""
    """Its name in the tab bar and in the command palette (``Train``)."""
    TAB_ORDER: ClassVar[int] = 100
    """Its place in the tab bar; the first nine get the number keys 1-9."""

    _tabs: ClassVar[list[type[ChartuiTab]]] = []

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if cls.TAB_ID:
            ChartuiTab._tabs.append(cls)

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

    def watch_has_focus(self, _has_focus: bool) -> None:
        # Textual restyles a widget and everything inside it when its focus changes; for a tab
        # that is every widget in it, and it was the largest part of a tab switch (the Train
        # tab: 25-40 ms of each switch to or from it). No rule in the app's CSS styles a
        # tab's children by the tab's focus, so the tab alone is restyled.
        self.app.stylesheet.update_nodes([self], animate=True)

    def keep(self, kind: str, files: dict[str, bytes], *, screenshot: bool = False) -> None:
        """Write what the user asked to keep to exports/ as ``KIND-<time>.<suffix>`` (``files``:
        suffix -> bytes; ``screenshot``: the screen as an SVG beside them), then say where, or
        why not: a full disk or a read-only folder is a notice, never a crash."""
        from datetime import datetime

        from chartui.engine.atomic import atomic_write, reason
        from chartui.errors import SaveError
        from chartui.paths import exports_dir, shown

        folder = exports_dir()
        stem = f"{kind}-{datetime.now():%Y%m%d-%H%M%S-%f}"
        try:
            folder.mkdir(parents=True, exist_ok=True)
            for suffix, data in files.items():
                atomic_write(folder / f"{stem}.{suffix}", data)
            if screenshot:
                self.app.save_screenshot(filename=f"{stem}.svg", path=str(folder))
        except SaveError as exc:
            self.app.notify(str(exc), severity="error", timeout=8)
            return
        except OSError as exc:
            self.app.notify(f"could not write to {shown(folder)}: {reason(exc)}", severity="error", timeout=8)
            return
        suffixes = [*files, *(["svg"] if screenshot else [])]
        self.app.notify(f"wrote {shown(folder / stem)}." + " and .".join(suffixes), timeout=8)

    def shown(self) -> None:
        """The user switched to this tab."""

    def active_run_changed(self, run: RunHandle | None) -> None:
        """The app's active run changed (opened, picked, started or finished training)."""

    def runs_changed(self) -> None:
        """Runs on disk changed: one started or finished training."""

    def commands(self) -> Iterable[tuple[str, str, Callable[[], object]]]:
        """(title, help, action) for the command palette; the app shows this tab, then acts."""
        return ()

    @property
    def busy(self) -> bool:
        """True while this tab does work that quitting would interrupt and must save first."""
        return False

    def stop_work(self, timeout: float = 0.0) -> bool:
        """Stop this tab's background work, waiting up to ``timeout`` s for what must be saved
        (called from any thread). Returns True when nothing of it is left running."""
        return True


def tab_classes() -> list[type[ChartuiTab]]:
    """Every tab defined in chartui/ui/tabs/, in tab-bar order."""
    package = importlib.import_module("chartui.ui.tabs")
    for module in pkgutil.iter_modules(package.__path__):
        importlib.import_module(f"{package.__name__}.{module.name}")
    return sorted(ChartuiTab._tabs, key=lambda tab: (tab.TAB_ORDER, tab.TAB_ID))


def remove_tab(tab: type[ChartuiTab]) -> None:
    """Take a tab out of the app's tab bar (one a test defined, once it is done)."""
    if tab in ChartuiTab._tabs:
        ChartuiTab._tabs.remove(tab)
