"""What a run has reported so far, kept bounded for the charts and the samples list.

Fed either by engine events (a run trained inside the app) or by metrics.jsonl records (a
run trained elsewhere, followed live), always on the UI thread: workers post the events in
messages and the Train tab applies them here, so nothing is read while it changes. No tensor
math: only lists of numbers. When the train-loss series passes ``MAX_POINTS`` it is halved,
so a run of any length keeps a flat memory footprint and a chart that shows its whole shape.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Any

from chartui.engine.events import Event, StepDone

MAX_POINTS = 4000
SPARK_POINTS = 120
SAMPLES = 20  # the Train tab shows these; every sample stays in the run's samples.txt


def halve(xs: list, ys: list) -> tuple[list, list]:
    """Half the points of a curve: every second x, and the mean of each pair of ys (the chart
    shows the same shape; a series that keeps growing stays within ``MAX_POINTS``)."""
    return xs[1::2], [(a + b) / 2 for a, b in zip(ys[::2], ys[1::2])]


@dataclass(frozen=True)
class Sample:
    step: int
    epoch: float
    text: str
    temperature: float


@dataclass
class RunHistory:
    """Series and status of one run. UI thread only."""

    run: str = ""
    steps: list[float] = field(default_factory=list)
    chars: list[float] = field(default_factory=list)
    losses: list[float] = field(default_factory=list)
    evals: list[tuple[int, int, float]] = field(default_factory=list)  # (step, chars, val loss)
    recent: deque = field(default_factory=lambda: deque(maxlen=SPARK_POINTS))
    samples: deque = field(default_factory=lambda: deque(maxlen=SAMPLES))
    started: dict[str, Any] | None = None
    latest: dict[str, Any] | None = None
    finished: dict[str, Any] | None = None
    best_val: float | None = None
    val: float | None = None
    paused: bool = False
    threads: int | None = None
    """CPU threads the trainer uses now, where it changed them after starting (--threads 0)."""
    version: int = 0
    """Bumped on every change, so the UI redraws only when something is new."""

    def apply(self, event: Event) -> None:
        """Take one engine event."""
        if isinstance(event, StepDone):
            self._step(event.step, event.chars_seen, event.loss, event.to_dict())
        elif event.kind in ("paused", "resumed"):
            self.paused = event.kind == "paused"
            self.version += 1
        else:
            self.apply_record(event.to_dict())

    def apply_record(self, record: dict[str, Any]) -> None:
        """Take one metrics.jsonl record (or an event's dict); malformed ones are ignored."""
        try:
            self._apply_record(record)
        except (KeyError, TypeError, ValueError):
            pass  # a hand-edited or damaged record: skip it, keep the rest

    def _apply_record(self, record: dict[str, Any]) -> None:
        kind = record.get("event")
        if kind == "step":
            if "loss" in record:
                self._step(int(record["step"]), int(record.get("chars_seen", 0)), float(record["loss"]), record)
            return
        if kind == "started":
            self.started = record
            self.run = str(record.get("run", self.run))
            self.finished = None
            self.threads = None
            self._trim_after(int(record.get("step", 0)))
        elif kind == "threads":
            self.threads = int(record["threads"])
        elif kind == "eval":
            self.evals.append((int(record["step"]), int(record.get("chars_seen", 0)), float(record["val_loss"])))
            self.val = float(record["val_loss"])
            self.best_val = record.get("best_val_loss", self.val)
            if len(self.evals) > MAX_POINTS:
                self.evals = self.evals[::2]
        elif kind == "sample":
            self.samples.append(
                Sample(
                    int(record["step"]),
                    float(record.get("epoch", 0.0)),
                    str(record["text"]),
                    float(record.get("temperature", 0.0)),
                )
            )
        elif kind == "finished":
            self.finished = record
            self.paused = False
        else:
            return
        self.version += 1

    def _step(self, step: int, chars: int, loss: float, record: dict[str, Any]) -> None:
        self.latest = record
        self.recent.append(loss)
        self.steps.append(step)
        self.chars.append(chars)
        self.losses.append(loss)
        if len(self.losses) > MAX_POINTS:
            self.steps, self.losses = halve(self.steps, self.losses)
            self.chars = self.chars[1::2]
        self.version += 1

    def _trim_after(self, step: int) -> None:
        """A resume restarts from its checkpoint: drop what came after it."""
        keep = sum(1 for s in self.steps if s <= step)
        del self.steps[keep:], self.chars[keep:], self.losses[keep:]
        self.evals = [e for e in self.evals if e[0] <= step]

    def series(self, x: str = "steps") -> tuple[list[float], list[float], list[float], list[float]]:
        """(x, train loss, x of evals, val loss) for a chart; ``x`` is steps or chars."""
        return (
            list(self.steps if x == "steps" else self.chars),
            list(self.losses),
            [e[0] if x == "steps" else e[1] for e in self.evals],
            [e[2] for e in self.evals],
        )

    @property
    def training(self) -> bool:
        return self.started is not None and self.finished is None
