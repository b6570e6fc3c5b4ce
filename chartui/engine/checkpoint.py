"""The checkpoint file: safetensors tensors plus chartui's JSON metadata. Safe to write, safe
to read.

A checkpoint's metadata holds two tables: ``run``, the run's description (exactly what
``run.json`` holds, see chartui.engine.runs.RunInfo), which makes the file self-sufficient;
and ``state``, the training progress when it was saved (step, losses, data position...).
Files written by format 1 (the description's fields and the progress side by side) are read
as if they had been written in today's layout.

Reading never executes anything: the header is parsed by the safetensors library (which
refuses truncated files and inconsistent offsets) and the tensors are memory-mapped; no
pickle and no ``torch.load`` is ever used. Every problem is a CheckpointError whose message
says what to do.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from chartui import __version__
from chartui.engine.atomic import atomic_write
from chartui.errors import CheckpointError, first_line

FORMAT = "chartui-checkpoint"
VERSION = 2

# The fields of format 1's flat metadata that describe the run; the rest was progress.
_V1_RUN_FIELDS = ("chartui", "preset", "model", "train", "vocab", "corpus", "params")


@dataclass(frozen=True)
class CheckpointMeta:
    """What a checkpoint says about itself, in today's layout whatever version wrote it."""

    path: Path
    version: int
    run: dict[str, Any]
    """The run's description (as in run.json); checked and typed by RunInfo.from_dict."""
    state: dict[str, Any]
    """Progress when saved: kind, status, step, losses, data position, counters."""


def read_meta(path: Path) -> CheckpointMeta:
    """Read and check a checkpoint's metadata without loading any tensor."""
    from safetensors import SafetensorError, safe_open

    path = Path(path)
    if path.is_dir():
        raise CheckpointError(f"{path} is a folder, not a checkpoint")
    try:
        with safe_open(path, framework="np") as fh:
            metadata = fh.metadata() or {}
    except FileNotFoundError:
        raise CheckpointError(f"{path} does not exist") from None
    except SafetensorError as exc:
        raise CheckpointError(_unreadable(path, str(exc))) from None
    except OSError as exc:
        raise CheckpointError(f"cannot read {path}: {exc.strerror or exc}") from None
    if "chartui" not in metadata:
        raise CheckpointError(f"{path} is a safetensors file but not a chartui checkpoint (no chartui metadata)")
    try:
        meta = json.loads(metadata["chartui"])
    except json.JSONDecodeError:
        raise CheckpointError(f"{path}: the chartui metadata is not valid JSON; the file is damaged") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise CheckpointError(f"{path} is not a chartui checkpoint (wrong format tag)")
    version = meta.get("version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise CheckpointError(f"{path}: unknown checkpoint format version {version!r}")
    if version > VERSION:
        raise CheckpointError(
            f"{path} was written by a newer chartui (format version {version}; this one reads up to {VERSION}); upgrade chartui"
        )
    run: Any
    state: Any
    if version == 1:
        run = {k: meta[k] for k in _V1_RUN_FIELDS if k in meta}
        state = {k: v for k, v in meta.items() if k not in (*_V1_RUN_FIELDS, "format", "version")}
    else:
        run, state = meta.get("run"), meta.get("state")
    return CheckpointMeta(
        path=path, version=version, run=run if isinstance(run, dict) else {}, state=state if isinstance(state, dict) else {}
    )


def _unreadable(path: Path, error: str) -> str:
    """The safetensors library's complaint, as a one-line diagnosis."""
    if "not fully covered" in error or "invalid header length" in error:
        return f"{path} is truncated (it ends before its tensors do); use the other checkpoint or retrain"
    if "invalid JSON" in error and "invalid type" in error:
        return f"{path} has a malformed tensor table; the file is damaged"
    return f"{path} is not a chartui checkpoint (no safetensors header; a pickle or another format?); chartui reads only the checkpoints it writes"


def load_tensors(path: Path, prefix: str = "") -> dict[str, Any]:
    """The tensors whose names start with ``prefix`` (prefix removed), as CPU torch tensors."""
    from safetensors import SafetensorError, safe_open

    try:
        with safe_open(path, framework="pt") as fh:
            return {name[len(prefix) :]: fh.get_tensor(name) for name in fh.keys() if name.startswith(prefix)}  # noqa: SIM118
    except (SafetensorError, OSError, ValueError, RuntimeError) as exc:
        raise CheckpointError(f"{path}: cannot read its tensors ({first_line(exc)}); the file is damaged") from None


def load_arrays(path: Path, prefix: str = "") -> dict[str, Any] | None:
    """The tensors whose names start with ``prefix`` as numpy arrays, read without torch; None
    when one of them has a dtype numpy cannot hold (bfloat16), for the caller to use torch."""
    from safetensors import SafetensorError, safe_open

    try:
        with safe_open(path, framework="np") as fh:
            return {name[len(prefix) :]: fh.get_tensor(name) for name in fh.keys() if name.startswith(prefix)}  # noqa: SIM118
    except (TypeError, KeyError):  # bfloat16 (or another dtype numpy has no name for)
        return None
    except (SafetensorError, OSError, ValueError, RuntimeError) as exc:
        if "bf16" in str(exc).lower() or "bfloat16" in str(exc).lower():
            return None
        raise CheckpointError(f"{path}: cannot read its tensors ({first_line(exc)}); the file is damaged") from None


def _storable(t: Any) -> Any:
    import torch

    t = t.detach().cpu()
    return (t.float() if t.dtype == torch.bfloat16 else t).contiguous()


def save_checkpoint(path: Path, tensors: dict[str, Any], *, run: dict[str, Any], state: dict[str, Any]) -> None:
    """Atomically write CPU copies of ``tensors`` with the run's description and progress."""
    from safetensors.torch import save

    meta = {"format": FORMAT, "version": VERSION, "chartui": __version__, "saved_at": time.time(), "run": run, "state": state}
    # bf16 values (a hidden state carried out of autocast) are stored as float32, exactly, so
    # the numpy reader (sample, gates: no torch) can read every checkpoint.
    blob = save({k: _storable(v) for k, v in tensors.items()}, metadata={"chartui": json.dumps(meta, ensure_ascii=False)})
    atomic_write(path, blob)
