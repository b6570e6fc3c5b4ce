"""Run folders and checkpoints: safe to write, safe to read.

A run is a folder: ``run.json`` (config, corpus, vocabulary), ``metrics.jsonl``,
``samples.txt``, ``last.safetensors`` (resumable: weights, optimiser, RNG, data position,
hidden state) and ``best.safetensors`` (weights with the lowest validation loss).

Writing is atomic (temporary file, fsync, rename, fsync of the folder), so a crash mid-save
leaves the previous file whole. Reading never executes anything: the safetensors header is
parsed and checked here before any tensor is touched, metadata is JSON, and no pickle or
``torch.load`` is ever used. Every problem becomes a CheckpointError or RunError whose
message says what to do.
"""

from __future__ import annotations

import errno
import fcntl
import json
import math
import os
import struct
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from chartui import __version__
from chartui.config import ModelConfig, TrainConfig, from_dict
from chartui.errors import ChartuiError, CheckpointError, RunError, SaveError
from chartui.paths import runs_dir

FORMAT = "chartui-checkpoint"
RUN_FORMAT = "chartui-run"
VERSION = 1

RUN_JSON = "run.json"
METRICS = "metrics.jsonl"
SAMPLES = "samples.txt"
LAST = "last.safetensors"
BEST = "best.safetensors"
LOCK = "train.lock"
CHECKPOINT_NAMES = (LAST, BEST)

_MAX_HEADER = 64 << 20
_DTYPES = {"F32": 4, "F16": 2, "BF16": 2, "F64": 8, "I64": 8, "I32": 4, "I16": 2, "I8": 1, "U8": 1, "BOOL": 1}


# --- atomic files ---------------------------------------------------------------------------


def atomic_write(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` so that readers see the old file or the new one, never half.

    Raises SaveError (disk full, read-only folder); the previous file is left untouched.
    """
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        try:
            view = memoryview(data)
            while view:
                written = os.write(fd, view)
                view = view[written:]
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
        _fsync_dir(path.parent)
    except OSError as exc:
        try:
            tmp.unlink()
        except OSError:
            pass
        raise SaveError(f"cannot save {path.name} in {path.parent}: {_why(exc)}; the previous {path.name} is intact") from None


def _why(exc: OSError) -> str:
    if exc.errno == errno.ENOSPC:
        return "the disk is full"
    if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return "the folder is read-only"
    return exc.strerror or str(exc)


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def write_json(path: Path, obj: Any) -> None:
    atomic_write(path, (json.dumps(obj, indent=2, ensure_ascii=False) + "\n").encode("utf-8"))


def remove_stale_temporaries(folder: Path) -> None:
    """Delete temporaries a crashed save left behind (they are never read)."""
    for tmp in folder.glob(".*.tmp"):
        try:
            tmp.unlink()
        except OSError:
            pass


# --- checkpoint files ------------------------------------------------------------------------


@dataclass
class Header:
    """A checked safetensors header: chartui metadata and the tensor table."""

    meta: dict[str, Any]
    tensors: dict[str, dict[str, Any]]
    data_start: int


def read_header(path: Path) -> Header:
    """Parse and check a checkpoint's header without reading tensors or running code."""
    path = Path(path)
    label = str(path)
    try:
        size = path.stat().st_size
        with open(path, "rb") as fh:
            head = fh.read(8)
            if len(head) < 8:
                raise CheckpointError(f"{label} is not a chartui checkpoint (too short); use a last.safetensors or best.safetensors that chartui wrote")
            (n,) = struct.unpack("<Q", head)
            if n > _MAX_HEADER or 8 + n > size:
                raise CheckpointError(f"{label} is not a chartui checkpoint (no safetensors header; a pickle or another format?); chartui reads only the checkpoints it writes")
            raw = fh.read(n)
    except FileNotFoundError:
        raise CheckpointError(f"{label} does not exist") from None
    except IsADirectoryError:
        raise CheckpointError(f"{label} is a folder, not a checkpoint") from None
    except OSError as exc:
        raise CheckpointError(f"cannot read {label}: {exc.strerror or exc}") from None
    try:
        table = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise CheckpointError(f"{label} is not a chartui checkpoint (unreadable header)") from None
    if not isinstance(table, dict):
        raise CheckpointError(f"{label} is not a chartui checkpoint (unreadable header)")
    metadata = table.pop("__metadata__", None) or {}
    if not isinstance(metadata, dict) or "chartui" not in metadata:
        raise CheckpointError(f"{label} is a safetensors file but not a chartui checkpoint (no chartui metadata)")
    try:
        meta = json.loads(metadata["chartui"])
    except (TypeError, json.JSONDecodeError):
        raise CheckpointError(f"{label}: the chartui metadata is not valid JSON; the file is damaged") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise CheckpointError(f"{label} is not a chartui checkpoint (wrong format tag)")
    version = meta.get("version")
    if not isinstance(version, int) or version < 1:
        raise CheckpointError(f"{label}: unknown checkpoint format version {version!r}")
    if version > VERSION:
        raise CheckpointError(f"{label} was written by a newer chartui (format version {version}; this one reads {VERSION}); upgrade chartui")
    data_len = size - 8 - n
    for name, info in table.items():
        ok = (
            isinstance(info, dict)
            and isinstance(info.get("dtype"), str)
            and info["dtype"] in _DTYPES
            and isinstance(info.get("shape"), list)
            and all(_whole(d) for d in info["shape"])
            and isinstance(info.get("data_offsets"), list)
            and len(info["data_offsets"]) == 2
            and all(_whole(o) for o in info["data_offsets"])
        )
        if not ok:
            raise CheckpointError(f"{label}: tensor {name!r} has a malformed entry; the file is damaged")
        begin, end = info["data_offsets"]
        if not (0 <= begin <= end) or end - begin != math.prod(info["shape"]) * _DTYPES[info["dtype"]]:
            raise CheckpointError(f"{label}: tensor {name!r} has inconsistent offsets; the file is damaged")
        if end > data_len:
            raise CheckpointError(f"{label} is truncated (tensor {name!r} runs past the end of the file); use the other checkpoint or retrain")
    return Header(meta=meta, tensors=table, data_start=8 + n)


def _whole(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _table(value: Any) -> dict[str, Any]:
    """``value`` if it is a JSON object, else an empty one (hostile metadata reads as absent)."""
    return value if isinstance(value, dict) else {}


@dataclass
class Checkpoint:
    """A loaded checkpoint: metadata and tensors (on the CPU)."""

    path: Path
    meta: dict[str, Any]
    tensors: dict[str, Any]

    @property
    def model_config(self) -> ModelConfig:
        try:
            return from_dict(ModelConfig, self.meta["model"])
        except (KeyError, TypeError, ChartuiError) as exc:
            raise CheckpointError(f"{self.path}: the model settings in its metadata are invalid ({exc})") from None

    @property
    def train_config(self) -> TrainConfig:
        try:
            return from_dict(TrainConfig, self.meta["train"])
        except (KeyError, TypeError, ChartuiError) as exc:
            raise CheckpointError(f"{self.path}: the training settings in its metadata are invalid ({exc})") from None

    @property
    def vocab(self):  # -> Vocab (imported lazily: corpus pulls numpy only, but keep this module light)
        from chartui.engine.corpus import Vocab

        chars = self.meta.get("vocab")
        if not isinstance(chars, str) or not chars:
            raise CheckpointError(f"{self.path}: the vocabulary in its metadata is missing")
        try:
            return Vocab(chars)
        except ChartuiError as exc:
            raise CheckpointError(f"{self.path}: the vocabulary in its metadata is invalid ({exc})") from None

    def model_state(self) -> dict[str, Any]:
        return {k[len("model."):]: v for k, v in self.tensors.items() if k.startswith("model.")}

    def build_model(self, device: Any = "cpu"):
        """The CharModel with these weights, after checking every shape and dtype."""
        import torch

        from chartui.engine.models import CharModel

        config, vocab = self.model_config, self.vocab
        with torch.device("meta"):  # shapes only: metadata claiming a huge model allocates nothing
            expected = CharModel(config, vocab.size).state_dict()
        got = self.model_state()
        missing = sorted(set(expected) - set(got))
        extra = sorted(set(got) - set(expected))
        if missing or extra:
            what = f"missing {missing[0]}" if missing else f"unexpected {extra[0]}"
            raise CheckpointError(f"{self.path}: weights do not match the model in its metadata ({what})")
        for name, want in expected.items():
            have = got[name]
            if tuple(have.shape) != tuple(want.shape):
                hint = " (the vocabulary does not match the weights)" if name in ("embedding.weight", "head.weight", "head.bias") else ""
                raise CheckpointError(
                    f"{self.path}: {name} has shape {tuple(have.shape)}, the metadata implies {tuple(want.shape)}{hint}"
                )
            if have.dtype not in (torch.float32, torch.float16, torch.bfloat16):
                raise CheckpointError(f"{self.path}: {name} has dtype {have.dtype}; weights must be floating point")
        model = CharModel(config, vocab.size)
        model.load_state_dict({k: v.float() for k, v in got.items()})
        model.eval()
        return model.to(device)


def save_checkpoint(path: Path, tensors: dict[str, Any], meta: dict[str, Any]) -> None:
    """Atomically write tensors (CPU, contiguous) with chartui metadata as safetensors."""
    from safetensors.torch import save

    meta = {"format": FORMAT, "version": VERSION, "chartui": __version__, "saved_at": time.time(), **meta}
    blob = save({k: v.detach().cpu().contiguous() for k, v in tensors.items()}, metadata={"chartui": json.dumps(meta, ensure_ascii=False)})
    atomic_write(path, blob)


def load_checkpoint(path: Path) -> Checkpoint:
    """Read a checkpoint after checking its header; tensors land on the CPU."""
    header = read_header(path)
    from safetensors import SafetensorError
    from safetensors.torch import load

    try:
        with open(path, "rb") as fh:
            tensors = load(fh.read())
    except (SafetensorError, OSError, ValueError, RuntimeError) as exc:
        raise CheckpointError(f"{path}: cannot read its tensors ({exc}); the file is damaged") from None
    return Checkpoint(path=Path(path), meta=header.meta, tensors=tensors)


# --- runs ---------------------------------------------------------------------------------


def resolve_run(spec: str | Path) -> Path:
    """The folder of a run given as a path or as a name under ``checkpoints/``."""
    path = Path(spec).expanduser()
    if not path.exists() and not path.is_absolute():
        candidate = runs_dir() / path
        if candidate.exists():
            path = candidate
    if not path.exists():
        raise RunError(f"no run at {spec}; list runs with `chartui runs`")
    return path


def find_checkpoint(spec: str | Path, which: str = "auto") -> Path:
    """The checkpoint file of a run (``best`` if it has one, else ``last``), or the file itself."""
    path = resolve_run(spec)
    if path.is_file():
        return path
    order = {"auto": (BEST, LAST), "best": (BEST,), "last": (LAST,)}[which]
    for name in order:
        if (path / name).is_file():
            return path / name
    if which != "auto" and any((path / n).is_file() for n in CHECKPOINT_NAMES):
        raise RunError(f"{spec} has no {order[0]}; try the other checkpoint")
    if (path / RUN_JSON).is_file():
        raise RunError(f"{spec} has no checkpoint yet (training saves one within seconds); wait, or train it with `chartui train --resume {spec}`")
    raise RunError(f"{spec} is not a chartui run (no {LAST} or {BEST}); list runs with `chartui runs`")


def open_run(spec: str | Path, which: str = "auto", device: Any = "cpu"):
    """(model, vocab, checkpoint) from a run folder or checkpoint file, ready to sample or trace."""
    ckpt = load_checkpoint(find_checkpoint(spec, which))
    return ckpt.build_model(device), ckpt.vocab, ckpt


class RunLock:
    """An exclusive lock on a run folder while a trainer writes to it.

    ``flock`` is released by the kernel when the process dies, even by ``kill -9``, so a
    crash never leaves a stale lock. Readers (sample, eval, the TUI) do not take it.
    """

    def __init__(self, folder: Path) -> None:
        self.path = Path(folder) / LOCK
        self._fh: BinaryIO | None = None

    def acquire(self) -> None:
        try:
            fh = open(self.path, "a+b")
        except OSError as exc:
            raise RunError(f"cannot lock {self.path.parent}: {_why(exc)}") from None
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            fh.seek(0)
            holder = fh.read().decode("ascii", "replace").strip() or "?"
            fh.close()
            raise RunError(f"{self.path.parent} is being trained by another chartui process (pid {holder}); wait for it, or use another --run") from None
        fh.seek(0)
        fh.truncate()
        fh.write(str(os.getpid()).encode())
        fh.flush()
        self._fh = fh

    def release(self) -> None:
        if self._fh is not None:
            try:
                fcntl.flock(self._fh, fcntl.LOCK_UN)
            finally:
                self._fh.close()
                self._fh = None

    def held_elsewhere(self) -> bool:
        """True while some process trains into this folder."""
        if not self.path.is_file():
            return False
        try:
            with open(self.path, "rb") as fh:
                fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
                fcntl.flock(fh, fcntl.LOCK_UN)
            return False
        except OSError:
            return True


# --- metrics.jsonl ------------------------------------------------------------------------


def read_metrics(path: Path) -> list[dict[str, Any]]:
    """Every record of a metrics file; a torn or garbled line (a crash mid-write) is skipped."""
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
        if isinstance(record, dict):
            yield record


class MetricsFollower:
    """Reads records appended to a metrics file since the last call (for watching a run live)."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._offset = 0
        self._inode: int | None = None

    def poll(self) -> list[dict[str, Any]]:
        try:
            st = self.path.stat()
        except OSError:
            return []
        if self._inode is not None and (st.st_ino != self._inode or st.st_size < self._offset):
            self._offset = 0  # rewritten (a resume trims it): read again from the start
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
            self._fh = open(self.path, "a", encoding="utf-8")
        except OSError as exc:
            raise SaveError(f"cannot write {self.path}: {_why(exc)}") from None

    def write(self, record: dict[str, Any]) -> None:
        try:
            self._fh.write(json.dumps(record, ensure_ascii=False, allow_nan=True) + "\n")
            self._fh.flush()
        except OSError as exc:
            raise SaveError(f"cannot write {self.path}: {_why(exc)}; checkpoints already saved are intact") from None

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
    records = [r for r in read_metrics(path) if int(r.get("step", 0) or 0) <= step and r.get("event") != "finished"]
    atomic_write(path, "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records).encode("utf-8"))


# --- listing runs -------------------------------------------------------------------------


def _run_info(folder: Path) -> dict[str, Any]:
    """A run's run.json as a table; empty when missing or unreadable (never raises)."""
    try:
        return _table(json.loads((Path(folder) / RUN_JSON).read_text(encoding="utf-8")))
    except (OSError, ValueError, UnicodeDecodeError):
        return {}


def run_corpus(folder: Path) -> str:
    """The corpus a run trains on, as given to ``--corpus`` (a name or an absolute path);
    empty if the run does not say."""
    corpus = _table(_run_info(folder).get("train")).get("corpus")
    return corpus if isinstance(corpus, str) else ""


def run_summary(folder: Path) -> dict[str, Any] | None:
    """What ``chartui runs`` and the Compare tab show of one run; None if not a run."""
    folder = Path(folder)
    info = _run_info(folder)
    meta: dict[str, Any] = {}
    for name in (LAST, BEST):
        try:
            meta = read_header(folder / name).meta
            break
        except CheckpointError:
            continue
    if not info and not meta:
        return None
    model = _table(meta.get("model")) or _table(info.get("model"))
    train = _table(meta.get("train")) or _table(info.get("train"))
    number = lambda v: v if isinstance(v, (int, float)) and not isinstance(v, bool) else None  # noqa: E731
    best = number(meta.get("best_val_loss"))
    return {
        "run": str(folder),
        "name": folder.name,
        "arch": model.get("arch") if isinstance(model.get("arch"), str) else None,
        "layers": number(model.get("layers")),
        "hidden": number(model.get("hidden")),
        "params": number((_table(meta.get("params")) or _table(info.get("params"))).get("total")),
        "corpus": str((_table(info.get("corpus")) or _table(meta.get("corpus"))).get("name") or "") or None,
        "step": number(meta.get("step")) or 0,
        "val_loss": number(meta.get("val_loss")),
        "best_val_loss": best,
        "perplexity": math.exp(best) if best is not None and best < 50 else None,
        "chars_per_s": number(meta.get("chars_per_s")),
        "elapsed": number(meta.get("elapsed")),
        "status": _status(folder, meta),
        "batching": train.get("batching"),
        "updated": max((p.stat().st_mtime for p in folder.iterdir() if p.is_file()), default=0.0),
    }


def _status(folder: Path, meta: dict[str, Any]) -> str:
    if RunLock(folder).held_elsewhere():
        return "training"
    status = meta.get("status") if isinstance(meta.get("status"), str) else "new"
    # Saved mid-training but nobody holds the lock: the trainer died (kill -9, power loss).
    return "interrupted" if status == "training" else status


def list_runs(root: Path | None = None) -> list[dict[str, Any]]:
    """Summaries of the runs under ``checkpoints/`` (and one level of groups, as compare makes)."""
    root = Path(root) if root else runs_dir()
    if not root.is_dir():
        return []
    found = []
    for folder in sorted(p for p in root.iterdir() if p.is_dir()):
        summary = _summary_or_none(folder)
        if summary:
            found.append(summary)
        else:
            found.extend(s for s in (_summary_or_none(sub) for sub in sorted(folder.iterdir()) if sub.is_dir()) if s)
    return sorted(found, key=lambda s: s["updated"])


def _summary_or_none(folder: Path) -> dict[str, Any] | None:
    """A run's summary; a folder that cannot be read (permissions, a vanished file) is left out."""
    try:
        return run_summary(folder)
    except (ChartuiError, OSError):
        return None
