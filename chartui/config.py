"""Settings for models, training and sampling, with their checks, and preset loading.

Stdlib only at import (no torch, no numpy): ``chartui --help`` must stay fast. A preset is a
TOML file in ``models/`` with a ``[model]`` and a ``[train]`` table; flags given on the
command line override it. Nothing here executes a config file: TOML is data.

Each field's docstring is its documentation everywhere: ``settings()`` reads them from this
file's source, and the command line builds its training flags from them.
"""

from __future__ import annotations

import ast
import dataclasses
import functools
import itertools
import math
import tomllib
import types
import typing
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from chartui.errors import ConfigError

BATCHING = ("stateful", "windows")
SCHEDULES = ("cosine", "linear", "constant")
PRECISIONS = ("auto", "fp32", "bf16")
DEVICES = ("auto", "cpu", "cuda", "mps")
"""Device names; ``cuda:N`` picks a GPU by index."""


def is_device(name: object) -> bool:
    """True for ``auto``, ``cpu``, ``cuda``, ``cuda:N`` or ``mps``."""
    return isinstance(name, str) and (name in DEVICES or (name.startswith("cuda:") and name[5:].isdigit()))


DEFAULT_PRESET = "cpu"
BUDGETS = ("epochs", "max_steps", "max_seconds")


class _CellNames(Sequence[str]):
    """The registered architectures, read from the cell registry only when asked (it imports
    numpy), so building the command line costs nothing until ``--arch`` is parsed."""

    def _names(self) -> tuple[str, ...]:
        from chartui.engine.cells import names

        return names()

    def __getitem__(self, i):
        return self._names()[i]

    def __len__(self) -> int:
        return len(self._names())

    def __contains__(self, name: object) -> bool:
        return name in self._names()

    def __iter__(self) -> Iterator[str]:
        return iter(self._names())


ARCHS: Sequence[str] = _CellNames()
"""The registered cell names (rnn, lstm, gru and any cell registered since)."""


def flag(name: str) -> str:
    """The command-line spelling of a setting: ``seq_len`` -> ``--seq-len``."""
    return "--" + name.replace("_", "-")


def _check(ok: bool, name: str, what: str, value: Any) -> None:
    if not ok:
        raise ConfigError(f"{flag(name)} must be {what} (got {value!r})")


def _positive_int(obj: Any, name: str) -> None:
    value = getattr(obj, name)
    _check(isinstance(value, int) and not isinstance(value, bool) and value >= 1, name, "a whole number of at least 1", value)


def _optional_positive(obj: Any, name: str) -> None:
    value = getattr(obj, name)
    if value is not None:
        _check(_is_number(value) and math.isfinite(value) and value > 0, name, "greater than 0", value)


MAX_SEED = 2**32 - 1


def _check_seed(seed: Any) -> None:
    _check(
        isinstance(seed, int) and not isinstance(seed, bool) and 0 <= seed <= MAX_SEED,
        "seed",
        f"a whole number from 0 to {MAX_SEED}",
        seed,
    )


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


@dataclass
class ModelConfig:
    """The shape of a character model: embedding -> recurrent stack -> linear head."""

    arch: str = "lstm"
    """Recurrent cell: ``rnn`` (tanh), ``lstm`` or ``gru``."""
    layers: int = 1
    """Recurrent layers stacked on top of each other."""
    embed: int = 32
    """Width of the character embedding fed to the first layer."""
    hidden: int = 128
    """Hidden units per recurrent layer."""
    dropout: float = 0.0
    """Dropout between recurrent layers and before the head (0 disables it)."""
    weight_drop: float = 0.0
    """DropConnect on the recurrent weights (AWD-LSTM's weight drop): one mask per batch, so
    torch's fused kernel still runs. 0 disables it."""
    input_dropout: float = 0.0
    """Locked (variational) dropout on the recurrent stack's input: one mask per sequence,
    the same at every step. 0 disables it."""
    output_dropout: float = 0.0
    """Locked dropout on the recurrent stack's output, before the head. 0 disables it."""
    embed_dropout: float = 0.0
    """Drops whole characters' embeddings (the same character is dropped everywhere in a
    batch). 0 disables it."""

    def param_breakdown(self, vocab_size: int) -> dict[str, int]:
        """Parameter counts by part (embedding, recurrent, head, total) without building the
        model: the cell's own formula, so the forms never import torch."""
        from chartui.engine.cells import get

        per_layer = get(self.arch).layer_params
        recurrent = sum(per_layer(self.embed if layer == 0 else self.hidden, self.hidden) for layer in range(self.layers))
        counts = {"embedding": vocab_size * self.embed, "recurrent": recurrent, "head": self.hidden * vocab_size + vocab_size}
        counts["total"] = sum(counts.values())
        return counts

    @property
    def label(self) -> str:
        """``lstm 1x384``: the cell, layers and width, as every list and header shows a model."""
        return f"{self.arch} {self.layers}x{self.hidden}"

    def __post_init__(self) -> None:
        if self.arch not in ARCHS:
            raise ConfigError(f"unknown architecture {self.arch!r}; choose one of {', '.join(ARCHS)}")
        for name in ("layers", "embed", "hidden"):
            _positive_int(self, name)
        for name in ("dropout", "weight_drop", "input_dropout", "output_dropout", "embed_dropout"):
            value = getattr(self, name)
            _check(_is_number(value) and 0 <= value < 1, name, "at least 0 and below 1", value)


@dataclass
class TrainConfig:
    """How a model is trained: corpus, batching, optimiser, schedule, budgets and cadences."""

    corpus: str = "shakespeare"
    """Corpus name (``shakespeare``, ``tinyshakespeare``) or a path to a text file or folder."""
    val_fraction: float = 0.1
    """Share of the corpus, taken contiguously from the end, held out for validation."""
    batching: str = "stateful"
    """``stateful``: B parallel streams, hidden state carried across batches (Exercise 35.5);
    ``windows``: the chapter's shuffled non-overlapping windows, each from a zero state."""
    seq_len: int = 50
    """Characters per training sequence (backpropagation through time length)."""
    batch_size: int = 64
    """Sequences per step."""
    lr: float = 3e-3
    """Peak learning rate of AdamW."""
    schedule: str = "cosine"
    """After warm-up, ``cosine`` or ``linear`` decay to ``min_lr_ratio * lr`` exactly when the budget
    ends, or ``constant``."""
    warmup_steps: int = 0
    """Steps of linear warm-up from 0 to ``lr``."""
    min_lr_ratio: float = 0.1
    """Where the decay ends, as a fraction of ``lr`` (0: decay to zero)."""
    weight_decay: float = 0.0
    """AdamW decoupled weight decay on matrices (biases are never decayed)."""
    beta1: float = 0.9
    """AdamW first-moment decay."""
    beta2: float = 0.999
    """AdamW second-moment decay."""
    grad_clip: float = 5.0
    """Clip the global gradient norm to this (0 disables clipping)."""
    epochs: float | None = None
    """Budget in passes over the training split."""
    max_steps: int | None = None
    """Budget in optimiser steps."""
    max_seconds: float | None = None
    """Budget in wall-clock seconds of training (summed across resumes). Whichever budget ends first wins."""
    eval_interval: int = 0
    """Evaluate on the whole validation split every N steps (0: only by time and at the end)."""
    eval_seconds: float = 0.0
    """Also evaluate every S seconds of training (0: off)."""
    eval_share: float = 0.03
    """Space evaluations so that they take at most this share of the training time, however
    long the validation split and slow the machine (0: no limit)."""
    sample_interval: int = 0
    """Generate a sample every N steps (0: off)."""
    sample_seconds: float = 0.0
    """Also generate a sample every S seconds (0: off)."""
    sample_epochs: list[int] = field(default_factory=list)
    """Generate a sample at the end of these epochs (the chapter samples at 2, 5 and 10)."""
    sample_prompt: str = "\n"
    """Prompt for the training samples."""
    sample_length: int = 200
    """Characters per training sample."""
    sample_temperature: float = 0.8
    """Temperature of the training samples."""
    checkpoint_seconds: float = 30.0
    """Save a resumable checkpoint at least this often (seconds), besides every evaluation and the end."""
    device: str = "auto"
    """``auto`` picks cuda, then mps, then cpu."""
    precision: str = "auto"
    """``bf16`` trains under bfloat16 autocast, ``fp32`` in full precision; ``auto`` measures a few of
    the model's own steps both ways on this machine and keeps bf16 only if it is faster
    (remembered per machine and model shape). Evaluation is always in fp32."""
    threads: int = 0
    """CPU threads for torch (0: one per core this process may use, fewer while other processes keep cores busy)."""
    seed: int = 1337
    """Seeds initialisation, batch order, dropout and training samples."""
    log_every: int = 1
    """Gather losses from the device every N steps (a host sync); events still arrive per step."""
    metrics_every: int = 10
    """Write a train-loss record to metrics.jsonl every N steps (the mean over them)."""

    def __post_init__(self) -> None:
        _check(isinstance(self.corpus, str) and self.corpus != "", "corpus", "a corpus name or a path", self.corpus)
        _check(
            _is_number(self.val_fraction) and 0 <= self.val_fraction <= 0.5,
            "val_fraction",
            "between 0 and 0.5",
            self.val_fraction,
        )
        if self.batching not in BATCHING:
            raise ConfigError(f"unknown batching {self.batching!r}; choose one of {', '.join(BATCHING)}")
        if self.schedule not in SCHEDULES:
            raise ConfigError(f"unknown schedule {self.schedule!r}; choose one of {', '.join(SCHEDULES)}")
        if self.precision not in PRECISIONS:
            raise ConfigError(f"unknown precision {self.precision!r}; choose one of {', '.join(PRECISIONS)}")
        if not is_device(self.device):
            raise ConfigError(f"unknown device {self.device!r}; choose one of auto, cpu, cuda, cuda:N (a GPU by index), mps")
        for name in ("seq_len", "batch_size", "sample_length", "log_every", "metrics_every"):
            _positive_int(self, name)
        _check(_is_number(self.lr) and math.isfinite(self.lr) and self.lr > 0, "lr", "greater than 0", self.lr)
        for name in ("warmup_steps", "eval_interval", "sample_interval", "threads"):
            value = getattr(self, name)
            _check(
                isinstance(value, int) and not isinstance(value, bool) and value >= 0, name, "a whole number of at least 0", value
            )
        for name in ("min_lr_ratio", "eval_share"):
            value = getattr(self, name)
            _check(_is_number(value) and 0 <= value <= 1, name, "between 0 and 1", value)
        for name in ("beta1", "beta2"):
            value = getattr(self, name)
            _check(_is_number(value) and 0 <= value < 1, name, "at least 0 and below 1", value)
        for name in ("weight_decay", "grad_clip", "eval_seconds", "sample_seconds", "checkpoint_seconds"):
            value = getattr(self, name)
            _check(_is_number(value) and math.isfinite(value) and value >= 0, name, "at least 0", value)
        _check(
            _is_number(self.sample_temperature) and self.sample_temperature >= 0,
            "sample_temperature",
            "at least 0",
            self.sample_temperature,
        )
        _check_seed(self.seed)
        _check(
            isinstance(self.sample_prompt, str) and self.sample_prompt != "",
            "sample_prompt",
            "a non-empty string",
            self.sample_prompt,
        )
        _check(
            isinstance(self.sample_epochs, list) and all(isinstance(e, int) and e >= 1 for e in self.sample_epochs),
            "sample_epochs",
            "a list of epoch numbers of at least 1",
            self.sample_epochs,
        )
        _optional_positive(self, "epochs")
        _optional_positive(self, "max_seconds")
        if self.max_steps is not None:
            _positive_int(self, "max_steps")
        if self.epochs is None and self.max_steps is None and self.max_seconds is None:
            raise ConfigError("no training budget: give --epochs, --max-steps or --max-seconds")

    def budget_used(self, step: int, epoch: float, seconds: float) -> float:
        """The share of the budget spent after ``step`` steps, ``epoch`` epochs and ``seconds``
        of training: the largest share among the budgets given (whichever ends first wins)."""
        shares = [0.0]
        if self.max_steps:
            shares.append(step / self.max_steps)
        if self.epochs:
            shares.append(epoch / self.epochs)
        if self.max_seconds:
            shares.append(seconds / self.max_seconds)
        return max(shares)


@dataclass
class SampleConfig:
    """How text is generated: a prompt, a length and the sampling knobs."""

    prompt: str = "\n"
    """Text the model reads before it writes (an empty prompt starts a new speech)."""
    length: int | None = 500
    """Characters to generate (None: until stopped)."""
    temperature: float = 0.8
    """Divides the logits; 0 means greedy (always the most likely character)."""
    top_k: int | None = None
    """Sample only among the k most likely characters."""
    top_p: float | None = None
    """Sample only among the most likely characters whose probabilities sum to p (nucleus)."""
    seed: int = 0
    """Seeds the draws: the same seed, weights and settings give the same text."""

    def __post_init__(self) -> None:
        check_sampling(temperature=self.temperature, top_k=self.top_k, top_p=self.top_p)
        if self.length is not None:
            _positive_int(self, "length")
        _check_seed(self.seed)
        _check(isinstance(self.prompt, str), "prompt", "text", self.prompt)


def check_sampling(*, temperature: float, top_k: int | None, top_p: float | None) -> None:
    """Raise ConfigError unless the sampling knobs are in range (shared with the TUI's keys)."""
    _check(_is_number(temperature) and math.isfinite(temperature) and temperature >= 0, "temperature", "at least 0", temperature)
    if top_k is not None:
        _check(
            isinstance(top_k, int) and not isinstance(top_k, bool) and top_k >= 1, "top_k", "a whole number of at least 1", top_k
        )
    if top_p is not None:
        _check(_is_number(top_p) and 0 < top_p <= 1, "top_p", "greater than 0 and at most 1", top_p)


BEAM_LENGTH_PENALTY = 0.6
"""Beam search ranks a text by log-probability / ((5 + length) / 6) ** this (GNMT's value)."""


# --- evaluation settings (shared by `chartui eval` and the engine) -----------------------

WINDOW_BLOCK = 256
"""Characters per window in the windows protocol (nanoGPT's block size for Shakespeare)."""
WINDOW_COUNT = 2000
"""Random windows scored in the windows protocol."""


@dataclass(frozen=True)
class DynamicSettings:
    """Dynamic evaluation with the RMS update of Krause et al. (2018)."""

    segment: int = 50
    """Characters scored, then learned from, at a time."""
    lr: float = 0.001
    """Step size of each update (scaled per weight by its gradients' RMS on training text)."""
    decay: float = 0.01
    """Pull back toward the trained weights at every update, so adaptation stays local."""
    beta: float = 0.99
    """How slowly the normaliser forgets: each update's gradient enters it with weight 1 - beta."""
    rms_batches: int = 100
    """Segments of training text used to measure each weight's typical gradient (the RMS),
    spread evenly over the training text given, each read after a warm-up segment."""

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


# --- presets -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Preset:
    """A named table of overrides for ModelConfig and TrainConfig, with optional variants:

    - ``[fp32.model]``/``[fp32.train]``: what changes when the machine trains in fp32 (no fast
      bf16): a model the slower step can still train well in the same time;
    - ``[scale.600.model]``/``[scale.600.train]`` (and ``[fp32.scale.600...]``): what changes
      when the time budget is at least 600 s, so the preset given more time does not over-fit.
    """

    name: str
    description: str
    model: dict[str, Any]
    train: dict[str, Any]
    fp32: dict[str, Any] = field(default_factory=dict)
    """``{"model": {...}, "train": {...}, "scale": {...}}`` for fp32 training."""
    scale: dict[float, dict[str, dict[str, Any]]] = field(default_factory=dict)
    """From-this-budget-up tiers: seconds -> ``{"model": {...}, "train": {...}}``."""

    @property
    def has_fp32_variant(self) -> bool:
        return bool(self.fp32)

    def tiers(self, precision: str | None = None) -> dict[float, dict[str, dict[str, Any]]]:
        """The budget tiers that apply in ``precision``: in fp32 the variant's own
        ``[fp32.scale.N]`` tiers where it has any, else the preset's ``[scale.N]``."""
        if precision == "fp32" and self.fp32 and self.fp32.get("scale"):
            return self.fp32["scale"]
        return self.scale


def _preset_files() -> dict[str, Any]:
    root = resources.files("chartui.presets")
    return {p.name[: -len(".toml")]: p for p in root.iterdir() if p.name.endswith(".toml")}


def list_presets() -> list[Preset]:
    """Every bundled preset, sorted by name."""
    return [load_preset(name) for name in sorted(_preset_files())]


def load_preset(name_or_path: str) -> Preset:
    """Load a bundled preset by name, or any preset TOML file by path."""
    files = _preset_files()
    if name_or_path in files:
        raw, label = files[name_or_path].read_bytes(), name_or_path
    elif name_or_path.endswith(".toml") and Path(name_or_path).is_file():
        try:
            raw, label = Path(name_or_path).read_bytes(), name_or_path
        except OSError as exc:
            raise ConfigError(f"cannot read the preset {name_or_path}: {exc.strerror or exc}") from None
    else:
        raise ConfigError(f"unknown preset {name_or_path!r}; choose one of {', '.join(sorted(files))} or give a .toml file")
    try:
        table = tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise ConfigError(f"preset {label} is not UTF-8 text; save it as UTF-8 TOML") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"preset {label}: not valid TOML ({exc})") from None
    unknown = set(table) - {"description", "model", "train", "fp32", "scale"}
    if unknown:
        raise ConfigError(
            f"preset {label}: unknown table or key {sorted(unknown)[0]!r}; use [model], [train], [fp32] and [scale.N]"
        )
    model, train = _settings(table, label, "")
    fp32: dict[str, Any] = {}
    if "fp32" in table:
        if not isinstance(table["fp32"], dict) or set(table["fp32"]) - {"model", "train", "scale"}:
            raise ConfigError(f"preset {label}: [fp32] holds [fp32.model], [fp32.train] and [fp32.scale.N] tables only")
        fp32_model, fp32_train = _settings(table["fp32"], label, "fp32.")
        fp32 = {"model": fp32_model, "train": fp32_train, "scale": _tiers(table["fp32"], label, "fp32.")}
    name = Path(label).stem if label.endswith(".toml") else label
    return Preset(name, str(table.get("description", "")), model, train, fp32=fp32, scale=_tiers(table, label, ""))


def _settings(table: dict[str, Any], label: str, prefix: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """A table's [model] and [train] sub-tables, every setting checked to exist."""
    model, train = table.get("model", {}), table.get("train", {})
    if not isinstance(model, dict) or not isinstance(train, dict):
        raise ConfigError(f"preset {label}: {prefix}model and {prefix}train must be tables, not single values")
    for section, cls in ((model, ModelConfig), (train, TrainConfig)):
        known = {f.name for f in dataclasses.fields(cls)}
        bad = set(section) - known
        if bad:
            raise ConfigError(f"preset {label}: unknown setting {sorted(bad)[0]!r}")
    return dict(model), dict(train)


def _tiers(table: dict[str, Any], label: str, prefix: str) -> dict[float, dict[str, dict[str, Any]]]:
    """[scale.N] tables: budget in seconds -> {"model": ..., "train": ...}."""
    scale = table.get("scale", {})
    if not isinstance(scale, dict):
        raise ConfigError(f"preset {label}: {prefix}scale must hold [{prefix}scale.N] tables")
    tiers = {}
    for seconds, tier in scale.items():
        try:
            budget = float(seconds)
        except ValueError:
            raise ConfigError(f"preset {label}: [{prefix}scale.{seconds}] must be named by a number of seconds") from None
        if not isinstance(tier, dict) or set(tier) - {"model", "train"}:
            raise ConfigError(f"preset {label}: [{prefix}scale.{seconds}] holds model and train tables only")
        model, train = _settings(tier, label, f"{prefix}scale.{seconds}.")
        tiers[budget] = {"model": model, "train": train}
    return tiers


def _coerce(cls: type, values: dict[str, Any]) -> dict[str, Any]:
    """Accept ints where floats are expected (TOML writes ``lr = 1`` as an int)."""
    hints = typing.get_type_hints(cls)
    out = {}
    for key, value in values.items():
        hint = hints.get(key)
        if _is_number(value) and isinstance(value, int) and hint in (float, float | None):
            value = float(value)
        out[key] = value
    return out


def build_configs(
    preset: Preset, overrides: dict[str, Any] | None = None, *, precision: str | None = None
) -> tuple[ModelConfig, TrainConfig]:
    """ModelConfig and TrainConfig from a preset: its fp32 variant when ``precision`` is
    ``fp32``, then the largest budget tier the time budget reaches, then the explicit
    overrides (flags) on top."""
    variant = preset.fp32 if precision == "fp32" else {}
    model = {**preset.model, **variant.get("model", {})}
    train = {**preset.train, **variant.get("train", {})}
    given = {k: v for k, v in (overrides or {}).items() if v is not None}
    seconds = given.get("max_seconds") if set(BUDGETS) & set(given) else train.get("max_seconds")
    reached = [budget for budget in preset.tiers(precision) if seconds is not None and budget <= seconds]
    if reached:
        tier = preset.tiers(precision)[max(reached)]
        model, train = {**model, **tier["model"]}, {**train, **tier["train"]}
    return apply_overrides(model, train, overrides)


def apply_overrides(
    model: dict[str, Any], train: dict[str, Any], overrides: dict[str, Any] | None = None
) -> tuple[ModelConfig, TrainConfig]:
    """Configs from base values (a preset's tables, or a saved run's settings) with the given
    overrides on top (None means "not given").

    A budget given explicitly replaces the base's budgets rather than adding to them, so
    ``--max-seconds 60`` on a preset that trains for 10 epochs trains for 60 seconds.
    """
    overrides = {k: v for k, v in (overrides or {}).items() if v is not None}
    model_keys = {f.name for f in dataclasses.fields(ModelConfig)}
    train_keys = {f.name for f in dataclasses.fields(TrainConfig)}
    unknown = set(overrides) - model_keys - train_keys
    if unknown:
        raise ConfigError(f"unknown setting {sorted(unknown)[0]!r}")
    model = {**model, **{k: v for k, v in overrides.items() if k in model_keys}}
    train = dict(train)
    if set(BUDGETS) & set(overrides):
        for key in BUDGETS:
            train.pop(key, None)
    train.update({k: v for k, v in overrides.items() if k in train_keys})
    return ModelConfig(**_coerce(ModelConfig, model)), TrainConfig(**_coerce(TrainConfig, train))


def to_dict(obj: Any) -> dict[str, Any]:
    """A config dataclass as a plain JSON-ready dict."""
    return dataclasses.asdict(obj)


def from_dict(cls: type, values: Any) -> Any:
    """Rebuild a config saved with ``to_dict``; unknown keys (from newer versions) are refused."""
    if not isinstance(values, dict):
        raise ConfigError(f"the saved {cls.__name__} is not a table")
    known = {f.name for f in dataclasses.fields(cls)}
    bad = set(values) - known
    if bad:
        raise ConfigError(f"unknown setting {sorted(bad)[0]!r} in saved config")
    return cls(**_coerce(cls, values))


# --- settings as the command line sees them ----------------------------------------------------

CHOICES: dict[str, Sequence[str]] = {
    "arch": ARCHS,
    "batching": BATCHING,
    "schedule": SCHEDULES,
    "precision": PRECISIONS,
}


@dataclass(frozen=True)
class Setting:
    """One field of ModelConfig or TrainConfig, described for a command-line flag."""

    name: str
    section: str
    """``model`` or ``train``."""
    kind: type
    """int, float, str or list (of whole numbers)."""
    choices: Sequence[str] | None
    help: str
    """The field's docstring."""

    @property
    def flag(self) -> str:
        return flag(self.name)


@functools.cache
def field_docs(cls: type) -> dict[str, str]:
    """The docstring under each field of a config dataclass in this file (read from the source,
    since Python keeps no attribute docstrings), whitespace folded."""
    tree = ast.parse(Path(__file__).read_text(encoding="utf-8"))
    body = next(node.body for node in tree.body if isinstance(node, ast.ClassDef) and node.name == cls.__name__)
    docs = {}
    for node, after in itertools.pairwise(body):
        if (
            isinstance(node, ast.AnnAssign)
            and isinstance(node.target, ast.Name)
            and isinstance(after, ast.Expr)
            and isinstance(after.value, ast.Constant)
            and isinstance(after.value.value, str)
        ):
            docs[node.target.id] = " ".join(after.value.value.replace("``", "").split())
    return docs


def settings() -> list[Setting]:
    """Every model and training setting, in declaration order, with its type and docstring."""
    out = []
    for section, cls in (("model", ModelConfig), ("train", TrainConfig)):
        hints, docs = typing.get_type_hints(cls), field_docs(cls)
        for f in dataclasses.fields(cls):
            hint = hints[f.name]
            if typing.get_origin(hint) in (typing.Union, types.UnionType):  # X | None: the flag takes an X
                hint = next(k for k in typing.get_args(hint) if k is not type(None))
            kind = typing.get_origin(hint) or hint
            out.append(Setting(f.name, section, kind, CHOICES.get(f.name), docs.get(f.name, "")))
    return out


def overrides_from(namespace: Any) -> dict[str, Any]:
    """The settings a parsed command line gave (None for those it did not), by field name."""
    return {s.name: getattr(namespace, s.name, None) for s in settings()}
