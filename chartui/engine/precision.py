"""The precision a run trains in, measured rather than assumed: bf16 autocast is about twice
as fast as fp32 on CPUs with native bf16 (AMX, AVX512-BF16), and slower on many without it.

``choose_precision`` decides (and remembers the measurement per machine and model shape);
``measure_bf16`` times a few of the model's own training steps both ways on a scratch model;
``configs_for_machine`` builds a preset's configs for the precision this machine will use
(a preset may carry an fp32 variant: a model the slower fp32 step can still train well in
the same time).
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import platform
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from chartui.config import ModelConfig, Preset, TrainConfig, build_configs
from chartui.engine.atomic import write_json
from chartui.engine.device import check_trainable, pick_device
from chartui.errors import ConfigError, SaveError
from chartui.paths import cache_dir

# bf16 must beat fp32 by this much to be chosen: a tie is not worth the lower precision.
BF16_MARGIN = 1.10
# The vocabulary the measurement assumes when it runs before a corpus is read (tiny-shakespeare's).
MEASURE_VOCAB = 65


@dataclass(frozen=True)
class Precision:
    """How a run trains: ``bf16`` (autocast) or ``fp32``, and why."""

    name: str
    reason: str

    @property
    def dtype(self) -> torch.dtype | None:
        """The autocast dtype, or None for full precision."""
        return torch.bfloat16 if self.name == "bf16" else None

    def __str__(self) -> str:
        return f"{self.name} ({self.reason})"


def choose_precision(
    requested: str, device: torch.device, *, shape: str, measure: Callable[[], float], runs: Callable[[], bool] = lambda: True
) -> Precision:
    """The precision for ``requested`` (``auto``, ``fp32``, ``bf16``) on ``device``.

    ``auto`` keeps bf16 only where it is measured faster: ``measure()`` returns bf16's speed
    as a multiple of fp32's for this model's own step. The answer is remembered per machine
    and model ``shape``, so the measurement is paid once. On CUDA, bf16 where the GPU
    supports it (always faster there).
    """
    cuda_bf16 = device.type == "cuda" and torch.cuda.is_bf16_supported()
    if requested == "fp32":
        return Precision("fp32", "asked for")
    if requested == "bf16":
        if device.type == "cuda" and not cuda_bf16:
            raise ConfigError("--precision bf16: this GPU has no bfloat16 support; use --precision fp32 or auto")
        if device.type == "cpu" and not runs():
            raise ConfigError(
                "--precision bf16: this CPU cannot run this model in bf16 (it has no native bf16); use --precision fp32 or auto"
            )
        return Precision("bf16", "asked for")
    if device.type == "cuda":
        return Precision("bf16", "auto: the GPU supports it") if cuda_bf16 else Precision("fp32", "auto: no bf16 on this GPU")
    key = hashlib.sha256(f"{machine_id(device)}|{shape}".encode()).hexdigest()[:16]
    path = cache_dir() / "precision.json"
    ratio = _read_cache(path).get(key)
    how = "measured earlier"
    if not isinstance(ratio, (int, float)):
        # One measurement at a time per machine: the processes of a torchrun job (or two
        # trainers started together) would otherwise time their steps against each other and
        # might decide differently. The first measures; the others wait and read its answer.
        with _measuring(path):
            known = _read_cache(path)
            ratio = known.get(key)
            if not isinstance(ratio, (int, float)):
                ratio, how = measure(), "measured"
                try:
                    write_json(path, {**known, key: ratio})
                except (SaveError, OSError):
                    pass  # an unwritable cache costs only the measurement next time
    if ratio >= BF16_MARGIN:
        return Precision("bf16", f"auto: {how} {ratio:.2f}x the speed of fp32 here")
    return Precision("fp32", f"auto: bf16 {how} at {ratio:.2f}x the speed of fp32 here, not worth it")


@contextmanager
def _measuring(path: Path) -> Iterator[None]:
    """Hold the machine's measurement lock (nothing, where the cache folder cannot be written)."""
    from filelock import FileLock

    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        lock = FileLock(str(path.with_suffix(".lock")), timeout=600, thread_local=False, is_singleton=False)
        lock.acquire()
    except (OSError, TimeoutError):
        yield
        return
    try:
        yield
    finally:
        lock.release()


def _read_cache(path: Path) -> dict:
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return value if isinstance(value, dict) else {}


def machine_id(device: torch.device) -> str:
    """What a speed measurement depends on: the processor (model and bf16/AMX flags), torch,
    the device and the threads."""
    if device.type == "cuda":
        chip = torch.cuda.get_device_name(device)
    else:
        chip = cpu_model()
        chip += " " + " ".join(sorted(cpu_flags() & {"avx512_bf16", "amx_bf16", "amx_tile", "avx512f", "avx2"}))
    return f"{chip}|torch {torch.__version__}|{device.type}|{torch.get_num_threads()} threads"


@functools.cache
def _cpuinfo(key: str) -> str | None:
    """The first ``key`` line of /proc/cpuinfo (Linux), read once per key; None elsewhere."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith(key):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return None


def cpu_model() -> str:
    """The processor's name (``Intel(R) Xeon(R) Processor``)."""
    return _cpuinfo("model name") or platform.processor() or platform.machine()


def cpu_flags() -> set[str]:
    """The processor's feature flags (Linux); empty elsewhere."""
    return set((_cpuinfo("flags") or "").split())


def shape_key(model: ModelConfig, train: TrainConfig) -> str:
    """What a step's speed depends on, besides the machine."""
    return (
        f"{model.arch} {model.layers}x{model.hidden} embed {model.embed} batch {train.batch_size} "
        f"seq {train.seq_len} weight drop {model.weight_drop > 0}"
    )


def measure_bf16(model_config: ModelConfig, train: TrainConfig, device: torch.device, vocab_size: int = MEASURE_VOCAB) -> float:
    """bf16's speed as a multiple of fp32's for a training step of this model shape on
    ``device`` (a scratch model on random characters; the random state is left as it was).
    0.0 where bf16 autocast does not run at all."""
    from chartui.engine.models import CharModel

    check_trainable(model_config.param_breakdown(vocab_size)["total"], device)  # before the scratch model
    devices = [device] if device.type == "cuda" else []
    with torch.random.fork_rng(devices=devices):
        model = CharModel(model_config, vocab_size).to(device).train()
        fast: dict[str, Any] = {"fused": True} if device.type == "cuda" else {"foreach": True}  # as the trainer's
        optimizer = torch.optim.AdamW(model.parameters(), lr=1e-6, **fast)
        x = torch.randint(0, vocab_size, (train.batch_size, train.seq_len), device=device)  # (B, T)
        y = torch.roll(x, -1, dims=1)

        def seconds(dtype: torch.dtype | None, steps: int) -> float:
            start = time.perf_counter()
            for _ in range(steps):
                with torch.autocast(device.type, dtype=dtype, enabled=dtype is not None):
                    logits, _ = model(x)  # (B, T, V)
                    loss = F.cross_entropy(logits.float().view(-1, vocab_size), y.view(-1))
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
            float(loss.detach())  # wait for the device
            return time.perf_counter() - start

        try:
            seconds(None, 1), seconds(torch.bfloat16, 1)  # warm-up: allocations, kernel choices
            fp32 = min(seconds(None, 2), seconds(None, 2))
            bf16 = min(seconds(torch.bfloat16, 2), seconds(torch.bfloat16, 2))
        except RuntimeError:
            return 0.0
    return fp32 / bf16


def bf16_runs(model_config: ModelConfig, device: torch.device) -> bool:
    """Whether bf16 autocast runs a training step of this kind of model on ``device`` at all (a
    scratch model 8 wide): oneDNN has no bf16 LSTM on CPUs without native bf16 (a 2-core AMD
    EPYC with AVX2 only), and the first step would fail."""
    from chartui.engine.models import CharModel

    small = dataclasses.replace(model_config, embed=8, hidden=8)
    with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
        try:
            model = CharModel(small, 5).to(device).train()
            x = torch.randint(0, 5, (2, 4), device=device)
            with torch.autocast(device.type, dtype=torch.bfloat16):
                logits, _ = model(x)
            logits.float().sum().backward()
        except RuntimeError:
            return False
    return True


def configs_for_machine(preset: Preset, overrides: dict[str, Any] | None = None) -> tuple[ModelConfig, TrainConfig]:
    """A preset's configs for the precision this machine will train in: its fp32 variant where
    bf16 is asked against or measured slower (for the preset's own model), else the preset as
    it is. Presets without a variant, and explicit overrides, are simply applied."""
    model, train = build_configs(preset, overrides)
    if not preset.has_fp32_variant or train.precision == "bf16":
        return model, train
    if train.precision == "auto":
        device = pick_device(train.device)
        chosen = choose_precision(
            "auto", device, shape=shape_key(model, train), measure=lambda: measure_bf16(model, train, device)
        )
        if chosen.name == "bf16":
            return model, train
    # The variant is an fp32 model: it trains in fp32 whatever bf16 would measure for its shape.
    model, train = build_configs(preset, overrides, precision="fp32")
    return model, dataclasses.replace(train, precision="fp32")
