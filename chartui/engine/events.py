"""What the trainer reports, as small frozen dataclasses with past-tense names.

The CLI turns them into progress lines or JSON lines; the TUI wraps them in one Textual
message. ``to_dict`` gives the JSON form used by ``chartui train --json`` and metrics.jsonl.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

if TYPE_CHECKING:
    from chartui.engine.runs import RunInfo


@dataclass(frozen=True)
class Event:
    kind: ClassVar[str] = "event"

    def to_dict(self) -> dict[str, Any]:
        return {"event": self.kind, **dataclasses.asdict(self)}


@dataclass(frozen=True)
class Started(Event):
    """Training began (or resumed) in ``run``."""

    kind: ClassVar[str] = "started"
    run: str
    step: int
    resumed: bool
    device: str
    """Where it trains: ``cpu (2 threads)``, ``cuda (NVIDIA H200)``."""
    precision: str
    """In what, and why: ``bf16 (auto: measured 2.07x the speed of fp32 here)``."""
    steps_per_epoch: int
    info: RunInfo
    """The run's description (model, settings, corpus, vocabulary), as run.json holds it."""
    processes: int = 1
    """How many processes train it together (torchrun, DDP)."""

    def to_dict(self) -> dict[str, Any]:
        return {
            "event": self.kind,
            "run": self.run,
            "step": self.step,
            "resumed": self.resumed,
            "device": self.device,
            "precision": self.precision,
            "processes": self.processes,
            "steps_per_epoch": self.steps_per_epoch,
            "info": self.info.to_dict(),
        }


@dataclass(frozen=True)
class StepDone(Event):
    """One optimiser step finished."""

    kind: ClassVar[str] = "step"
    step: int
    epoch: float
    """Epochs done, fractional (1.5 = halfway through the second pass)."""
    loss: float
    lr: float
    chars_seen: int
    elapsed: float
    """Seconds of training so far, across resumes, pauses excluded."""
    chars_per_s: float
    """Recent training throughput (evaluation and saving excluded)."""
    progress: float
    """Share of the budget used, 0..1."""
    eta: float | None
    device_memory: int | None = None
    """Bytes the GPU holds for this process (allocated by torch's caching allocator); None on a CPU."""


@dataclass(frozen=True)
class ThreadsChanged(Event):
    """``--threads 0`` on a CPU: torch's threads changed to the cores other processes leave free."""

    kind: ClassVar[str] = "threads"
    step: int
    threads: int
    before: int
    others: float
    """Cores other processes used over the last few seconds."""
    cores: int

    @property
    def message(self) -> str:
        return (
            f"torch threads {self.before} -> {self.threads}: other processes are using "
            f"{self.others:.1f} of the {self.cores} cores"
        )


@dataclass(frozen=True)
class EvalDone(Event):
    """The whole validation split was scored."""

    kind: ClassVar[str] = "eval"
    step: int
    epoch: float
    val_loss: float
    best_val_loss: float
    improved: bool
    chars_seen: int
    elapsed: float


@dataclass(frozen=True)
class SampleReady(Event):
    """The model wrote a sample (the chapter's "watch the text improve")."""

    kind: ClassVar[str] = "sample"
    step: int
    epoch: float
    prompt: str
    text: str
    temperature: float


@dataclass(frozen=True)
class PromptReplaced(Event):
    """The samples' prompt has characters this corpus lacks: samples start from another one."""

    kind: ClassVar[str] = "prompt_replaced"
    prompt: str
    replacement: str
    missing: str
    """The characters the corpus lacks, described."""

    @property
    def message(self) -> str:
        return (
            f"the sample prompt {self.prompt!r} has characters this corpus lacks ({self.missing}); "
            f"samples start from {self.replacement!r} instead"
        )


@dataclass(frozen=True)
class CheckpointSaved(Event):
    """A checkpoint reached the disk (atomically)."""

    kind: ClassVar[str] = "checkpoint"
    step: int
    path: str
    which: str
    """``last`` (resumable) or ``best`` (lowest validation loss)."""


@dataclass(frozen=True)
class Paused(Event):
    """The trainer holds before its next step (``pause()``)."""

    kind: ClassVar[str] = "paused"
    step: int


@dataclass(frozen=True)
class Resumed(Event):
    """The trainer goes on after a pause (``unpause()``)."""

    kind: ClassVar[str] = "resumed"
    step: int


@dataclass(frozen=True)
class Finished(Event):
    """Training ended; the last event of every run."""

    kind: ClassVar[str] = "finished"
    run: str
    reason: str
    """``budget``, ``stopped`` (asked to stop; resumable), ``diverged`` or ``error``."""
    steps: int
    val_loss: float | None
    best_val_loss: float | None
    train_loss: float | None
    chars_per_s: float
    elapsed: float
    message: str = ""
