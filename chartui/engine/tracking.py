"""Experiment tracking: the run's metrics records as TensorBoard scalars and texts, or CSV.

The same records chartui writes to ``metrics.jsonl`` (one per event: steps, evaluations,
samples...) are what this module turns into TensorBoard's tags, live while a run trains
(``chartui train --tensorboard DIR``) or afterwards from the file
(``chartui export RUN --to tensorboard|csv``), so both give the same curves.

Tags: ``train/loss``, ``train/lr``, ``train/chars_per_s``, ``val/loss``, ``val/bits_per_char``,
``val/best_loss``, and the text ``samples`` (each training sample at its step). The x-axis is
the optimizer step. TensorBoard itself is optional: ``pip install 'chartui[tensorboard]'``.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from chartui.errors import ConfigError

LN2 = math.log(2)
CSV_FIELDS = ("event", "step", "epoch", "elapsed", "chars_seen", "loss", "lr", "chars_per_s", "val_loss", "best_val_loss")


def _number(v: Any) -> float | None:
    return float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) else None


def scalars(record: dict[str, Any]) -> Iterator[tuple[str, float, int]]:
    """(tag, value, step) for each scalar a metrics record holds."""
    step = record.get("step")
    if not isinstance(step, int) or isinstance(step, bool):
        return
    kind = record.get("event")
    if kind == "step":
        for key, tag in (("loss", "train/loss"), ("lr", "train/lr"), ("chars_per_s", "train/chars_per_s")):
            value = _number(record.get(key))
            if value is not None:
                yield tag, value, step
    elif kind == "eval":
        val = _number(record.get("val_loss"))
        if val is not None:
            yield "val/loss", val, step
            yield "val/bits_per_char", val / LN2, step
        best = _number(record.get("best_val_loss"))
        if best is not None:
            yield "val/best_loss", best, step


def texts(record: dict[str, Any]) -> Iterator[tuple[str, str, int]]:
    """(tag, markdown text, step) for each text a record holds (training samples)."""
    step = record.get("step")
    if record.get("event") == "sample" and isinstance(step, int) and isinstance(record.get("text"), str):
        prompt = record.get("prompt") if isinstance(record.get("prompt"), str) else ""
        t = record.get("temperature")
        # TensorBoard renders text as Markdown: a code block keeps the line breaks and spacing.
        yield "samples", f"T={t}\n\n```\n{prompt}{record['text']}\n```", step


class TensorBoardWriter:
    """Writes records to a TensorBoard log folder as they come (``write``), then ``close``."""

    def __init__(self, folder: str | Path) -> None:
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError:
            raise ConfigError("--tensorboard needs the tensorboard package: pip install 'chartui[tensorboard]'") from None
        try:
            self._writer = SummaryWriter(log_dir=str(folder), flush_secs=10)
        except OSError as exc:
            raise ConfigError(f"cannot write TensorBoard logs to {folder}: {exc.strerror or exc}") from None
        self.folder = Path(folder)

    def write(self, record: dict[str, Any]) -> None:
        for tag, value, step in scalars(record):
            self._writer.add_scalar(tag, value, step, walltime=_number(record.get("time")))
        for tag, text, step in texts(record):
            self._writer.add_text(tag, text, step, walltime=_number(record.get("time")))

    def close(self) -> None:
        self._writer.close()


def to_tensorboard(records: Iterable[dict[str, Any]], folder: str | Path) -> int:
    """Write ``records`` as TensorBoard logs in ``folder``; returns how many records carried data."""
    writer = TensorBoardWriter(folder)
    used = 0
    try:
        for record in records:
            if any(True for _ in scalars(record)) or any(True for _ in texts(record)):
                used += 1
            writer.write(record)
    finally:
        writer.close()
    return used


def to_csv(records: Iterable[dict[str, Any]]) -> str:
    """Step and eval records as CSV text (one row per record; empty cells where absent)."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=CSV_FIELDS, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for record in records:
        if record.get("event") in ("step", "eval"):
            writer.writerow({k: record.get(k, "") for k in CSV_FIELDS})
    return out.getvalue()
