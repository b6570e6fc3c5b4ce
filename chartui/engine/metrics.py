"""``metrics.jsonl``: what a run reports, one JSON object per line, appended as it trains.

Written by the trainer (``MetricsWriter``), read back whole (``read_metrics``) or followed
while another process appends (``MetricsFollower``). A torn or garbled line, which a crash
mid-write can leave, is skipped, never fatal. Stdlib only.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from chartui.engine.atomic import atomic_write, reason
from chartui.errors import RunError, SaveError


def perplexity(loss: float | None) -> float | None:
    """exp(loss) for a loss in nats per character; None when there is no finite loss (or it
    is so large that the perplexity means nothing)."""
    if loss is None or not math.isfinite(loss) or loss > 700:
        return None
    return math.exp(loss)


def read_metrics(path: Path) -> list[dict[str, Any]]:
    """Every record of a metrics file; a torn or garbled line is skipped."""
    try:
        raw = Path(path).read_bytes()
    except FileNotFoundError:
        return []
    except OSError as exc:
        raise RunError(f"cannot read {path}: {exc.strerror or exc}") from None
    return list(_parse_lines(raw))


def _parse_lines(raw: bytes) -> Iterator[dict[str, Any]]:
    for line in raw.split(b"\n"):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except (json.JSONDecodeError, UnicodeDecodeError):
            continue
        if isinstance(record, dict) and _whole(record.get("step", 0)):
            yield record


def _whole(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


class MetricsFollower:
    """Reads records appended to a metrics file since the last call (for watching a run live)."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._offset = 0
        self._inode: int | None = None
        self.restarts = 0
        """How many times the file was found rewritten and read again from its start: a caller
        that keeps what it read drops it when this changes."""

    def poll(self) -> list[dict[str, Any]]:
        try:
            st = self.path.stat()
        except OSError:
            return []
        if self._inode is not None and (st.st_ino != self._inode or st.st_size < self._offset):
            self._offset = 0  # rewritten (a resume trims it): read again from the start
            self.restarts += 1
        self._inode = st.st_ino
        try:
            with open(self.path, "rb") as fh:
                fh.seek(self._offset)
                chunk = fh.read()
        except OSError:
            return []
        end = chunk.rfind(b"\n")
        if end < 0:
            return []  # only a partial line so far
        self._offset += end + 1
        return list(_parse_lines(chunk[: end + 1]))


class MetricsWriter:
    """Appends JSON records, one per line, flushed as written."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        try:
            self._fh = open(self.path, "a", encoding="utf-8")  # noqa: SIM115 - held open for the run
        except OSError as exc:
            raise SaveError(f"cannot write {self.path}: {reason(exc)}") from None

    def write(self, record: dict[str, Any]) -> None:
        try:
            self._fh.write(json.dumps(record, ensure_ascii=False, allow_nan=True) + "\n")
            self._fh.flush()
        except OSError as exc:
            raise SaveError(f"cannot write {self.path}: {reason(exc)}; checkpoints already saved are intact") from None

    def sync(self) -> None:
        try:
            os.fsync(self._fh.fileno())
        except OSError:
            pass

    def close(self) -> None:
        try:
            self._fh.close()
        except OSError:
            pass


def trim_metrics(path: Path, step: int) -> None:
    """Keep only records up to ``step`` (a resume redoes what came after its checkpoint)."""
    records = [r for r in read_metrics(path) if r.get("step", 0) <= step and r.get("event") != "finished"]
    atomic_write(path, "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records).encode("utf-8"))
