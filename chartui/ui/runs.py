"""Run handles: what the app's ``active_run`` holds. A saved run (a folder on disk) and the
run this app is training right now look the same to the tabs: a path, a description, and
``model()``, which hands back a model to sample from or trace (the engine builds it; the UI
never does tensor math)."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from chartui.engine.corpus import Vocab
from chartui.engine.runs import Run, RunInfo


class RunHandle(Protocol):
    """A run the tabs can show, generate from and trace."""

    path: Path
    live: bool
    """True for the run this app is training now."""
    chosen: bool
    """True when the user opened or picked it (or trains it); False for the app's own default
    pick at start-up (the newest run), which the Train and Data tabs leave alone so the
    session's --preset and --corpus stay what the form shows."""

    @property
    def name(self) -> str: ...

    @property
    def info(self) -> RunInfo: ...

    def model(self) -> tuple[Any, Vocab]:
        """(a CharModel in eval mode, its vocabulary); may raise ChartuiError. Thread-safe."""
        ...


@dataclass(frozen=True)
class SavedRun:
    """A run folder; its model is its best checkpoint (else its last), loaded once per version."""

    path: Path
    live: bool = False
    chosen: bool = True

    @property
    def run(self) -> Run:
        return Run(self.path)

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def info(self) -> RunInfo:
        return self.run.info

    def model(self) -> tuple[Any, Vocab]:
        checkpoint = self.run.checkpoint("auto")
        key = (str(checkpoint), checkpoint.stat().st_mtime_ns)
        with _LOADING:  # Generate and Gates load from their own threads
            if key not in _LOADED:
                loaded = self.run.load("auto")
                _LOADED.clear()  # one model at a time: they can be large
                _LOADED[key] = (loaded.model, loaded.vocab)
            return _LOADED[key]


_LOADED: dict[tuple[str, int], tuple[Any, Vocab]] = {}
_LOADING = threading.Lock()


@dataclass(frozen=True, eq=False)
class LiveRun:
    """The run this app trains now; its model is a copy of the weights as of the last step."""

    trainer: Any
    """The engine's Trainer."""
    live: bool = True
    chosen: bool = True

    @property
    def path(self) -> Path:
        return self.trainer.run_dir

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def info(self) -> RunInfo:
        return self.trainer.info

    def model(self) -> tuple[Any, Vocab]:
        return self.trainer.snapshot(), self.trainer.vocab
