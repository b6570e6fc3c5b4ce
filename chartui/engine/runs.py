"""Runs: one folder per training run, and everything chartui knows about one.

A run folder holds ``run.json`` (the run's description: a ``RunInfo``), ``metrics.jsonl``
(what it reported), ``samples.txt``, ``last.safetensors`` (resumable: weights, AdamW moments,
RNG states, data position, hidden state), ``best.safetensors`` (the lowest validation loss)
and ``train.lock`` (held by the one process training it).

The description is written by one function (``Run.write_info``) and read through one typed
accessor (``Run.info``); every checkpoint carries the same description, so a checkpoint copied
anywhere still samples and traces. Runs written by format 1 are read as today's.

Also here: the one definition of the train/validation split (``split_ids``) and the rule for
what a resume may change (``Run.plan_resume``).
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np

from chartui import __version__
from chartui.config import ModelConfig, TrainConfig, flag, from_dict, to_dict
from chartui.engine.atomic import reason, write_json
from chartui.engine.checkpoint import CheckpointMeta, load_arrays, load_tensors, read_meta
from chartui.engine.corpus import NAMED, Corpus, Vocab, load_corpus
from chartui.engine.metrics import MetricsFollower, perplexity, read_metrics
from chartui.errors import ChartuiError, CheckpointError, ConfigError, CorpusError, RunError
from chartui.paths import runs_dir

RUN_FORMAT = "chartui-run"
RUN_VERSION = 2
RUN_JSON = "run.json"
METRICS = "metrics.jsonl"
SAMPLES = "samples.txt"
LAST = "last.safetensors"
BEST = "best.safetensors"
LOCK = "train.lock"
CHECKPOINTS = {"auto": (BEST, LAST), "best": (BEST,), "last": (LAST,)}
LOCK_ATTEMPTS, LOCK_RETRY_SECONDS = 20, 0.05  # a second of patience for a reader's probe
CHUNK = 1 << 24  # corpus ids mapped to another vocabulary this many at a time

# The settings that define a run: a resume keeps them (the model's too). Everything else,
# budgets, rates, cadences and the machine, a resume may change.
DEFINE_THE_RUN = frozenset({"corpus", "val_fraction", "batching", "seq_len", "batch_size", "beta1", "beta2", "seed"})
RESUME_MAY_CHANGE = frozenset(f.name for f in dataclasses.fields(TrainConfig)) - DEFINE_THE_RUN


# --- the description -------------------------------------------------------------------------


@dataclass(frozen=True)
class CorpusInfo:
    """The text a run trains on, as recorded when it started."""

    name: str
    """What the user asked for: a corpus name or the path they gave."""
    source: str
    """Where the text came from: an absolute path."""
    chars: int
    vocab_size: int
    sha256: str
    """Digest of the UTF-8 text: resume and evaluation check they read the same text."""
    files: int = 1
    skipped: int = 0
    train_chars: int = 0
    val_chars: int = 0


@dataclass(frozen=True)
class RunInfo:
    """A run's description: what was trained, on what, with which settings and vocabulary."""

    model: ModelConfig
    train: TrainConfig
    vocab: Vocab
    corpus: CorpusInfo
    preset: str = ""
    created: str = ""
    chartui: str = __version__
    precision: str = ""
    """What it trains in (``bf16`` or ``fp32``; the latest session's choice when ``auto``)."""
    init_from: dict[str, Any] | None = None
    """For a fine-tuned run, where its first weights came from: the source run, checkpoint,
    step, and the characters added to its vocabulary (see chartui.engine.finetune)."""

    @property
    def label(self) -> str:
        """``lstm 1x384``."""
        return self.model.label

    @property
    def params(self) -> dict[str, int]:
        """Parameter counts by part (embedding, recurrent, head, total)."""
        return self.model.param_breakdown(self.vocab.size)

    def to_dict(self) -> dict[str, Any]:
        """The JSON form, in run.json and in every checkpoint's metadata."""
        return {
            "chartui": self.chartui,
            "created": self.created,
            "preset": self.preset,
            "model": to_dict(self.model),
            "train": to_dict(self.train),
            "params": self.params,
            "corpus": dataclasses.asdict(self.corpus),
            "vocab": self.vocab.chars,
            "precision": self.precision,
            **({"init_from": self.init_from} if self.init_from else {}),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any], *, source: str, error: type[ChartuiError] = RunError) -> RunInfo:
        """Check and type a description (format 1 or 2); ``error`` with a one-line message otherwise."""
        chars = d.get("vocab")
        if not isinstance(chars, str) or not chars:
            raise error(f"{source}: the vocabulary in its metadata is missing")

        def typed(what: str, build: Any) -> Any:
            try:
                return build()
            except (ChartuiError, TypeError, ValueError) as exc:
                raise error(f"{source}: the {what} in its metadata are invalid ({exc})") from None

        def text(key: str) -> str:
            return d[key] if isinstance(d.get(key), str) else ""

        return cls(
            model=typed("model settings", lambda: from_dict(ModelConfig, d.get("model"))),
            train=typed("training settings", lambda: from_dict(TrainConfig, d.get("train"))),
            vocab=typed("vocabulary settings", lambda: Vocab(chars)),
            corpus=typed("corpus settings", lambda: _corpus_info(d.get("corpus"))),
            preset=text("preset"),
            created=text("created"),
            chartui=text("chartui") or "?",
            precision=text("precision"),
            init_from=d["init_from"] if isinstance(d.get("init_from"), dict) else None,
        )


def _corpus_info(value: Any) -> CorpusInfo:
    if not isinstance(value, dict):
        raise TypeError("not a table")
    known = {f.name for f in dataclasses.fields(CorpusInfo)}
    info = CorpusInfo(**{k: v for k, v in value.items() if k in known})
    if not isinstance(info.name, str) or not isinstance(info.sha256, str):
        raise TypeError("name and sha256 must be text")
    return info


def corpus_info(corpus: Corpus, train_chars: int, val_chars: int) -> CorpusInfo:
    """The description of a loaded corpus, with the sizes of its split."""
    return CorpusInfo(
        name=corpus.name,
        source=corpus.source,
        chars=len(corpus),
        vocab_size=corpus.vocab.size,
        sha256=corpus.sha256,
        files=len(corpus.files) or 1,
        skipped=len(corpus.skipped),
        train_chars=train_chars,
        val_chars=val_chars,
    )


def run_corpus(info: RunInfo) -> Corpus:
    """The corpus a run describes, checked to be the very text it trained on."""
    corpus = load_corpus(info.train.corpus)
    if info.corpus.sha256 and corpus.sha256 != info.corpus.sha256:
        raise CorpusError(
            f"the corpus {info.train.corpus} changed since this run started (its sha256 differs); "
            "it needs the same text (score another file with chartui eval --text FILE)"
        )
    return corpus


def validation_ids(info: RunInfo) -> np.ndarray:
    """The validation split of the run ``info`` describes, as ids of its vocabulary."""
    val = split_ids(run_corpus(info), info.vocab, info.train.val_fraction)[1]
    if len(val) < 2:
        raise CorpusError("this run has no validation split (--val-fraction 0); score a file with --text FILE")
    return val


def split_ids(corpus: Corpus, vocab: Vocab, val_fraction: float) -> tuple[np.ndarray, np.ndarray]:
    """The split every part of chartui uses: the corpus as ids of ``vocab`` (characters it
    lacks dropped), then (train, validation) with the last ``val_fraction`` of the text,
    contiguous, held out."""
    ids = corpus.ids
    if corpus.vocab != vocab:  # each of the corpus's ids mapped to ``vocab``'s (-1: dropped), chunk by chunk
        table = np.array([vocab.index(c) if c in vocab else -1 for c in corpus.vocab.chars], dtype=np.int32)
        dtype = np.uint8 if vocab.size <= 256 else np.int32
        parts = [table[ids[i : i + CHUNK]] for i in range(0, len(ids), CHUNK)]
        ids = np.concatenate([p[p >= 0].astype(dtype) for p in parts]) if parts else np.zeros(0, dtype)
    n_val = int(len(ids) * val_fraction)
    return ids[: len(ids) - n_val], ids[len(ids) - n_val :]


@dataclass(frozen=True)
class Progress:
    """How far a checkpoint's run had trained, read leniently (hostile values read as absent)."""

    kind: str = ""
    """``last`` (resumable) or ``best``."""
    status: str = "new"
    """``training`` (saved mid-run), ``stopped``, ``finished``."""
    step: int = 0
    epoch: float = 0.0
    elapsed: float = 0.0
    val_loss: float | None = None
    best_val_loss: float | None = None
    chars_per_s: float | None = None

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> Progress:
        def number(key: str) -> float | None:
            v = state.get(key)
            return float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) else None

        def text(key: str, default: str) -> str:
            return state[key] if isinstance(state.get(key), str) else default

        step = state.get("step")
        return cls(
            kind=text("kind", ""),
            status=text("status", "new"),
            step=step if isinstance(step, int) and not isinstance(step, bool) and step >= 0 else 0,
            epoch=number("epoch") or 0.0,
            elapsed=number("elapsed") or 0.0,
            val_loss=number("val_loss"),
            best_val_loss=number("best_val_loss"),
            chars_per_s=number("chars_per_s"),
        )


# --- loading a model ------------------------------------------------------------------------------


@dataclass
class LoadedModel:
    """A checkpoint's model, ready to sample, score or trace, with what it says about itself."""

    model: Any
    """The CharModel (in eval mode)."""
    info: RunInfo
    progress: Progress
    path: Path
    """The checkpoint file."""

    @property
    def vocab(self) -> Vocab:
        return self.info.vocab


def read_checkpoint_info(path: Path) -> tuple[CheckpointMeta, RunInfo]:
    """A checkpoint's metadata and its typed run description (no tensors read)."""
    meta = read_meta(path)
    return meta, RunInfo.from_dict(meta.run, source=str(path), error=CheckpointError)


def load_checkpoint(path: Path, device: Any = "cpu") -> LoadedModel:
    """The model in a checkpoint file, after checking its metadata, names, shapes and dtypes."""
    from chartui.engine.models import CharModel

    meta, info = read_checkpoint_info(path)
    weights = load_tensors(path, "model.")
    model = CharModel.from_weights(info.model, info.vocab.size, weights, label=str(path))
    return LoadedModel(model=model.to(device), info=info, progress=Progress.from_state(meta.state), path=Path(path))


def open_model(spec: str | Path, which: str = "auto", device: Any = "cpu") -> LoadedModel:
    """The model of a run (``which`` checkpoint) or of a checkpoint file given directly."""
    path = resolve_run(spec)
    if path.is_file():
        return load_checkpoint(path, device)
    return Run(path).load(which, device)


def load_replay(path: Path) -> LoadedModel:
    """A checkpoint's weights as a numpy Replay (``.model``), checked like ``load_checkpoint``'s
    and read without importing torch; a cell that declares no ``weight_shapes`` (or weights
    stored as bfloat16) go through torch instead, with the same result."""
    from chartui.engine import cells
    from chartui.engine.replay import Replay

    meta, info = read_checkpoint_info(path)
    progress = Progress.from_state(meta.state)
    cfg, spec = info.model, cells.get(info.model.arch)
    arrays = load_arrays(path, "model.") if spec.weight_shapes is not None else None
    if arrays is None or spec.weight_shapes is None:
        model = load_checkpoint(path).model
        return LoadedModel(model=Replay(model), info=info, progress=progress, path=Path(path))
    V = info.vocab.size
    expected = {"embedding.weight": (V, cfg.embed), "head.weight": (V, cfg.hidden), "head.bias": (V,)}
    expected |= {f"rnn.{k}": v for k, v in spec.weight_shapes(cfg.embed, cfg.hidden, cfg.layers).items()}
    _check_arrays(arrays, expected, str(path))
    return LoadedModel(
        model=Replay.from_arrays(cfg, {k: v.astype(np.float32) for k, v in arrays.items()}),
        info=info,
        progress=progress,
        path=Path(path),
    )


def _check_arrays(arrays: dict[str, np.ndarray], expected: dict[str, tuple[int, ...]], label: str) -> None:
    """Every expected name, with its shape and a floating dtype, and nothing else (the same
    checks, in the same words, as CharModel.from_weights)."""
    missing, extra = sorted(set(expected) - set(arrays)), sorted(set(arrays) - set(expected))
    if missing or extra:
        what = f"missing {missing[0]}" if missing else f"unexpected {extra[0]}"
        raise CheckpointError(f"{label}: weights do not match the model in its metadata ({what})")
    for name, want in expected.items():
        have = arrays[name]
        if tuple(have.shape) != want:
            hint = " (the vocabulary does not match the weights)" if name.split(".")[0] in ("embedding", "head") else ""
            raise CheckpointError(f"{label}: {name} has shape {tuple(have.shape)}, the metadata implies {want}{hint}")
        if have.dtype not in (np.float32, np.float16):
            raise CheckpointError(f"{label}: {name} has dtype {have.dtype}; weights must be floating point")


def open_replay(spec: str | Path, which: str = "auto") -> LoadedModel:
    """``open_model`` for sampling and tracing: the weights as a numpy Replay, no torch."""
    path = resolve_run(spec)
    return load_replay(path if path.is_file() else Run(path).checkpoint(which))


# --- the lock -------------------------------------------------------------------------------------


class RunLock:
    """An exclusive lock on a run folder while a trainer writes to it; a context manager.

    The ``filelock`` library (flock on Unix, a locked byte on Windows): the operating system
    releases it when the process dies, even by ``kill -9``, so a crash never leaves a stale
    lock. The holder writes its pid into the file for the message others see. Readers
    (sample, eval, the app) do not take it.
    """

    def __init__(self, folder: Path) -> None:
        self.path = Path(folder) / LOCK
        self._lock: Any = None

    def _file_lock(self) -> Any:
        from filelock import FileLock

        # thread_local=False: the app takes the lock in a worker thread and may release it in
        # another; is_singleton=False: a second RunLock in this process is a different holder.
        return FileLock(str(self.path), timeout=0, thread_local=False, is_singleton=False)

    def __enter__(self) -> RunLock:
        from filelock import Timeout

        lock = self._file_lock()
        # Readers probe the lock by taking it for an instant (held_elsewhere); a trainer that
        # meets such a probe tries again for a moment before deciding another trainer holds it.
        for attempt in range(LOCK_ATTEMPTS):
            try:
                lock.acquire(timeout=0)
                break
            except Timeout:
                if attempt + 1 < LOCK_ATTEMPTS:
                    time.sleep(LOCK_RETRY_SECONDS)
            except OSError as exc:
                raise RunError(f"cannot lock {self.path.parent}: {reason(exc)}") from None
        else:
            try:
                holder = self.path.read_bytes().decode("ascii", "replace").strip() or "?"
            except OSError:
                holder = "?"
            raise RunError(
                f"{self.path.parent} is being trained by another chartui process (pid {holder}); wait for it, or use another --run"
            )
        try:
            with open(self.path, "r+b") as fh:  # the pid, for whoever finds the lock taken
                fh.truncate()
                fh.write(str(os.getpid()).encode())
        except OSError:
            pass  # the lock holds without it; the message then says "pid ?"
        self._lock = lock
        return self

    def __exit__(self, *exc: object) -> None:
        if self._lock is not None:
            try:
                self._lock.release(force=True)
            finally:
                self._lock = None

    def held_elsewhere(self) -> bool:
        """True while another process (or another lock object) holds this run's lock."""
        from filelock import Timeout

        if self._lock is not None or not self.path.is_file():
            return False
        probe = self._file_lock()
        try:
            probe.acquire(timeout=0)
        except Timeout:
            return True
        except OSError:
            return False
        probe.release(force=True)
        return False


# --- the run ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ResumePlan:
    """What continuing a run with given settings would do (``Run.plan_resume``)."""

    model: ModelConfig
    """The run's model (a resume never changes it)."""
    train: TrainConfig
    """The run's training settings with the allowed changes applied."""
    progress: Progress
    changes: dict[str, tuple[Any, Any]]
    """Settings the resume changes: name -> (as trained, now)."""
    conflicts: dict[str, tuple[Any, Any]]
    """Settings that define the run but were asked to change: name -> (as trained, asked)."""

    @property
    def resumable(self) -> bool:
        return not self.conflicts

    @property
    def nothing_to_train(self) -> bool:
        """True when the budget is already spent (a finished run, or a budget below its step)."""
        return self.train.budget_used(self.progress.step, self.progress.epoch, self.progress.elapsed) >= 1.0

    def refusal(self) -> ConfigError:
        """The one-line error for the first conflicting setting."""
        name, (old, _) = next(iter(self.conflicts.items()))
        return ConfigError(
            f"{flag(name)} cannot change when resuming (the run was trained with {old!r}); start a new run to change it"
        )


@dataclass(frozen=True)
class RunSummary:
    """What lists of runs show (``chartui runs``, the Compare tab, the run pickers); never fails
    for a damaged run: what cannot be read is None."""

    path: Path
    info: RunInfo | None
    progress: Progress
    status: str
    """``new``, ``training`` (locked by a trainer now), ``interrupted``, ``stopped`` or ``finished``."""
    updated: float

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def label(self) -> str:
        return self.info.label if self.info else "-"

    @property
    def perplexity(self) -> float | None:
        return perplexity(self.progress.best_val_loss)

    def to_dict(self) -> dict[str, Any]:
        info, p = self.info, self.progress
        return {
            "run": str(self.path),
            "name": self.name,
            "label": self.label,
            "arch": info.model.arch if info else None,
            "layers": info.model.layers if info else None,
            "hidden": info.model.hidden if info else None,
            "params": info.params["total"] if info else None,
            "corpus": info.corpus.name if info else None,
            "batching": info.train.batching if info else None,
            "step": p.step,
            "val_loss": p.val_loss,
            "best_val_loss": p.best_val_loss,
            "perplexity": self.perplexity,
            "chars_per_s": p.chars_per_s,
            "elapsed": p.elapsed,
            "status": self.status,
            "updated": self.updated,
        }


class Run:
    """A run folder. Cheap to make; everything is read when asked for."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    def __repr__(self) -> str:
        return f"Run({str(self.path)!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Run) and other.path == self.path

    def __hash__(self) -> int:
        return hash(self.path)

    @property
    def name(self) -> str:
        return self.path.name

    def file(self, name: str) -> Path:
        """One of the run's files (``METRICS``, ``SAMPLES``, ``LAST``...)."""
        return self.path / name

    # --- finding and making runs ---------------------------------------------------------------

    @classmethod
    def open(cls, spec: str | Path) -> Run:
        """An existing run folder, given as a path or as a name under ``checkpoints/``."""
        path = resolve_run(spec).absolute()
        run = cls(path)
        if not path.is_dir() or not run.is_run():
            raise RunError(f"{spec} is not a chartui run folder; give the folder (list them with `chartui runs`)")
        return run

    @classmethod
    def create(cls, path: str | Path | None = None, *, name: str = "run") -> Run:
        """A new empty run folder: ``path`` (which must not exist, be empty, and not be a run),
        or a fresh ``<date>-<name>`` folder under ``checkpoints/``, claimed atomically so two
        trainers started in the same second never share one."""
        if path is None:
            parent, stamp = runs_dir(), datetime.now().strftime("%Y%m%d-%H%M%S")
            for n in range(1, 1000):
                folder = parent / (f"{stamp}-{name}" if n == 1 else f"{stamp}-{name}-{n}")
                try:
                    folder.mkdir(parents=True, exist_ok=False)
                    return cls(folder)
                except FileExistsError:
                    continue
                except OSError as exc:
                    raise RunError(
                        f"cannot create a run folder in {parent}: {reason(exc)}; set CHARTUI_HOME or give --run"
                    ) from None
            raise RunError(f"too many runs named {name} in {parent}; give --run")
        path = checked_path(path, "--run").absolute()
        run = cls(path)
        try:
            if path.exists() and not path.is_dir():
                raise RunError(f"{path} is a file; give --run a folder")
            if path.is_dir() and run.is_run():
                raise RunError(f"{path} already holds a run; continue it with --resume {path}, or choose a new --run")
            if path.is_dir() and any(p.name != LOCK for p in path.iterdir()):
                raise RunError(f"{path} holds files that are not a chartui run; give --run a new or empty folder")
            path.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise RunError(f"cannot create the run folder {path}: {reason(exc)}") from None
        return run

    def is_run(self) -> bool:
        """True if the folder has a readable run.json or a checkpoint with chartui metadata."""
        if self._run_json() is not None:
            return True
        for name in (LAST, BEST):
            try:
                read_meta(self.path / name)
                return True
            except ChartuiError:
                continue
        return False

    # --- the description ---------------------------------------------------------------------

    def _run_json(self) -> dict[str, Any] | None:
        try:
            value = json.loads((self.path / RUN_JSON).read_text(encoding="utf-8"))
        except (OSError, ValueError, UnicodeDecodeError):
            return None
        return value if isinstance(value, dict) else None

    @property
    def info(self) -> RunInfo:
        """The run's description: run.json, or (for a folder of checkpoints only) the one the
        newest checkpoint carries."""
        table = self._run_json()
        if table is not None:
            version = table.get("version", 1)
            if isinstance(version, int) and not isinstance(version, bool) and version > RUN_VERSION:
                raise RunError(
                    f"{self.path / RUN_JSON} was written by a newer chartui (run format {version}; "
                    f"this one reads up to {RUN_VERSION}); upgrade chartui"
                )
            return RunInfo.from_dict(table, source=str(self.path / RUN_JSON))
        for name in (LAST, BEST):
            if (self.path / name).is_file():
                return read_checkpoint_info(self.path / name)[1]
        raise RunError(f"{self.path} has no run.json and no checkpoint; it is not a chartui run")

    def write_info(self, info: RunInfo) -> None:
        """Write the run's description (the only writer of run.json)."""
        write_json(self.path / RUN_JSON, {"format": RUN_FORMAT, "version": RUN_VERSION, **info.to_dict()})

    # --- checkpoints and models --------------------------------------------------------------

    def checkpoint(self, which: str = "auto") -> Path:
        """The checkpoint file for ``which`` (``auto``: best if there is one, else last)."""
        order = CHECKPOINTS[which]
        for name in order:
            if (self.path / name).is_file():
                return self.path / name
        if which != "auto" and any((self.path / n).is_file() for n in (LAST, BEST)):
            raise RunError(f"{self.path} has no {order[0]}; try the other checkpoint")
        if (self.path / RUN_JSON).is_file():
            raise RunError(
                f"{self.path} has no checkpoint yet (training saves one within seconds); wait, or train it with `chartui train --resume {self.path}`"
            )
        raise RunError(f"{self.path} is not a chartui run (no {LAST} or {BEST}); list runs with `chartui runs`")

    def progress(self, which: str = "last") -> Progress | None:
        """How far the ``which`` checkpoint had trained (None without one)."""
        for name in CHECKPOINTS[which]:
            try:
                return Progress.from_state(read_meta(self.path / name).state)
            except ChartuiError:
                continue
        return None

    def load(self, which: str = "auto", device: Any = "cpu") -> LoadedModel:
        """The model of the ``which`` checkpoint."""
        return load_checkpoint(self.checkpoint(which), device)

    def model(self, which: str = "auto", device: Any = "cpu") -> Any:
        """The CharModel of the ``which`` checkpoint, in eval mode."""
        return self.load(which, device).model

    # --- what it reported ---------------------------------------------------------------------

    def metrics(self) -> list[dict[str, Any]]:
        """Every record of metrics.jsonl."""
        return read_metrics(self.path / METRICS)

    def follow(self) -> MetricsFollower:
        """A reader of the records appended to metrics.jsonl from now on (and those before)."""
        return MetricsFollower(self.path / METRICS)

    # --- training -----------------------------------------------------------------------------

    @contextmanager
    def lock(self) -> Iterator[RunLock]:
        """Hold the run's training lock (RunError if another process trains it)."""
        with RunLock(self.path) as held:
            yield held

    def training_elsewhere(self) -> bool:
        """True while some process trains this run."""
        return RunLock(self.path).held_elsewhere()

    def corpus(self) -> Corpus:
        """The run's corpus, checked to be the text it trained on."""
        return run_corpus(self.info)

    def validation_ids(self) -> np.ndarray:
        """The run's validation split, as ids of its vocabulary."""
        return validation_ids(self.info)

    def plan_resume(self, model: ModelConfig, train: TrainConfig, *, extend: bool = False) -> ResumePlan:
        """What continuing this run with ``model`` and ``train`` would do: which settings change,
        which conflict with the run (those that define it), and whether anything is left to
        train. ``extend`` counts the budget from where a finished run ended ("Continue")."""
        info, progress = self.info, self.progress("last")
        if progress is None:
            raise RunError(f"{self.path} has no {LAST} to resume from; start a new run instead")
        if extend and progress.status == "finished":
            train = dataclasses.replace(
                train,
                max_seconds=None if train.max_seconds is None else train.max_seconds + progress.elapsed,
                max_steps=None if train.max_steps is None else train.max_steps + progress.step,
                epochs=None if train.epochs is None else train.epochs + progress.epoch,
            )
        trained, asked = {**to_dict(info.model), **to_dict(info.train)}, {**to_dict(model), **to_dict(train)}
        asked["corpus"] = _same_corpus(asked["corpus"], trained["corpus"])
        changes: dict[str, tuple[Any, Any]] = {}
        conflicts: dict[str, tuple[Any, Any]] = {}
        for key, value in asked.items():
            if value != trained.get(key):
                (changes if key in RESUME_MAY_CHANGE else conflicts)[key] = (trained.get(key), value)
        final = dataclasses.replace(info.train, **{k: new for k, (_, new) in changes.items()})
        return ResumePlan(model=info.model, train=final, progress=progress, changes=changes, conflicts=conflicts)

    # --- listing ------------------------------------------------------------------------------

    def summary(self) -> RunSummary | None:
        """What lists show of this run; None if the folder is not a run. Never raises."""
        try:
            if not self.is_run():
                return None
            try:
                info: RunInfo | None = self.info
            except ChartuiError:
                info = None
            # The last checkpoint knows the run's status and best loss; a lone best one, less.
            progress = self.progress("last") or self.progress("best")
            if self.training_elsewhere():
                status = "training"
            elif progress is None:
                status = "new"
            else:
                # Saved mid-training but nobody holds the lock: the trainer died (kill -9, power loss).
                status = "interrupted" if progress.status == "training" else progress.status
            updated = max((p.stat().st_mtime for p in self.path.iterdir() if p.is_file()), default=0.0)
        except OSError:
            return None
        return RunSummary(path=self.path, info=info, progress=progress or Progress(), status=status, updated=updated)


def _same_corpus(asked: str, trained: str) -> str:
    """``asked`` as the run records it: a named corpus, or a path made absolute."""
    if asked in NAMED or asked == trained:
        return asked
    try:
        return str(Path(asked).expanduser().resolve())
    except OSError:
        return asked


def checked_path(spec: str | Path, what: str) -> Path:
    """``spec`` as a path, refusing the empty string (it would mean the current folder)."""
    if not str(spec).strip():
        raise RunError(f"{what} needs a folder, not an empty string")
    return Path(spec).expanduser()


def resolve_run(spec: str | Path) -> Path:
    """The path of a run given as a path or as a name under ``checkpoints/`` (a folder or a
    checkpoint file)."""
    path = checked_path(spec, "the run")
    try:
        if not path.exists() and not path.is_absolute() and (runs_dir() / path).exists():
            path = runs_dir() / path
        if not path.exists():
            raise RunError(f"no run at {spec}; list runs with `chartui runs`")
    except OSError as exc:
        raise RunError(f"cannot read {spec}: {exc.strerror or exc}") from None
    return path


# What a run folder holds that chartui wrote (besides ``.*.tmp`` leftovers of atomic writes).
RUN_FILES = (RUN_JSON, METRICS, SAMPLES, LAST, BEST, LOCK)


def _managed_run(spec: str | Path, verb: str) -> Run:
    """The run ``spec`` names, if it is a chartui run no trainer holds; RunError otherwise."""
    path = resolve_run(spec)
    run = Run(path)
    if path.is_file() or not run.is_run():
        raise RunError(f"{path} is not a chartui run folder; chartui {verb}s only runs (see `chartui runs`)")
    if RunLock(path).held_elsewhere():
        raise RunError(f"{path} is being trained right now; stop the trainer first, then {verb} it")
    return run


def run_files(spec: str | Path) -> tuple[Run, list[Path], list[Path]]:
    """A run that may be deleted, the files of it chartui wrote, and any other files in it."""
    run = _managed_run(spec, "delete")
    ours: list[Path] = []
    theirs: list[Path] = []
    for p in sorted(run.path.iterdir()):
        is_ours = p.is_file() and (p.name in RUN_FILES or (p.name.startswith(".") and p.name.endswith(".tmp")))
        (ours if is_ours else theirs).append(p)
    return run, ours, theirs


def delete_run(spec: str | Path) -> tuple[Path, list[Path]]:
    """Delete the files chartui wrote in a run, and the folder if nothing else is left in it.
    Returns the folder and what was kept (files that chartui did not write)."""
    run, ours, theirs = run_files(spec)
    try:
        with RunLock(run.path):  # a trainer starting meanwhile is refused, not robbed of its files
            for p in ours:
                if p.name != LOCK:
                    p.unlink(missing_ok=True)
        (run.path / LOCK).unlink(missing_ok=True)
        if not theirs:
            run.path.rmdir()
    except OSError as exc:
        raise RunError(f"cannot delete {run.path}: {reason(exc)}") from None
    return run.path, theirs


def rename_run(spec: str | Path, new: str) -> Path:
    """Move a run to ``new``: a name beside it, or a path. Refuses an existing target."""
    run = _managed_run(spec, "rename")
    target = checked_path(new, "the new name")
    if len(target.parts) == 1:
        target = run.path.parent / target
    try:
        if target.exists():
            raise RunError(f"{target} already exists; choose another name")
        target.parent.mkdir(parents=True, exist_ok=True)
        with RunLock(run.path):  # not while a trainer that started meanwhile writes into it
            run.path.rename(target)
    except OSError as exc:
        raise RunError(f"cannot rename {run.path} to {target}: {reason(exc)}") from None
    return target


def list_runs(root: Path | None = None) -> list[RunSummary]:
    """The runs under ``checkpoints/`` (and one level of groups, as ``compare`` makes), oldest
    first; folders that are not runs, or cannot be read, are left out."""
    root = Path(root) if root else runs_dir()
    try:
        folders = sorted(p for p in root.iterdir() if p.is_dir())
    except OSError:
        return []
    found = []
    for folder in folders:
        summary = Run(folder).summary()
        if summary is not None:
            found.append(summary)
            continue
        try:
            subs = sorted(p for p in folder.iterdir() if p.is_dir())
        except OSError:
            continue
        found.extend(s for s in (Run(sub).summary() for sub in subs) if s is not None)
    return sorted(found, key=lambda s: s.updated)
