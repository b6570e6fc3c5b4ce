"""The Textual messages that carry engine work back to the UI thread.

Workers post these with ``post_message`` (thread-safe, non-blocking). ``TrainProgress``
says only "the history changed"; consecutive ones coalesce, so a fast trainer never floods
the queue.
"""

from __future__ import annotations

from typing import Any

from textual.message import Message

from chartui.engine.events import Event


class EngineEvent(Message):
    """A trainer event other than a step (started, eval, sample, checkpoint, finished)."""

    def __init__(self, event: Event) -> None:
        super().__init__()
        self.event = event


class TrainProgress(Message):
    """Steps happened; read the RunHistory for the numbers."""

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, TrainProgress)


class WorkFailed(Message):
    """A worker hit a ChartuiError (or a bug); ``text`` is the one-line message for the user."""

    def __init__(self, where: str, text: str) -> None:
        super().__init__()
        self.where = where
        self.text = text


class TraceReady(Message):
    """A gate trace (and its unit ranking) finished in a worker."""

    def __init__(self, trace: Any, rankings: dict[tuple[int, str], list], key: int) -> None:
        super().__init__()
        self.trace = trace
        self.rankings = rankings
        self.key = key


class StatsReady(Message):
    """Corpus statistics finished loading in a worker."""

    def __init__(self, stats: dict[str, Any]) -> None:
        super().__init__()
        self.stats = stats
