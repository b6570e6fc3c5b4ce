"""Choosing where to compute: cuda, then mps, then cpu; CPU threads; and the precision,
measured rather than assumed (bf16 autocast is about twice as fast as fp32 on CPUs with
native bf16, and slower on many without it)."""

from __future__ import annotations

import hashlib
import json
import os
import platform
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch

from chartui.engine.atomic import write_json
from chartui.errors import ConfigError, SaveError
from chartui.paths import cache_dir

# bf16 must beat fp32 by this much to be chosen: a tie is not worth the lower precision.
BF16_MARGIN = 1.10


def pick_device(name: str = "auto") -> torch.device:
    """The torch device for ``auto``/``cpu``/``cuda``/``mps``; an unavailable one is an error."""
    cuda = torch.cuda.is_available()
    mps = bool(getattr(torch.backends, "mps", None)) and torch.backends.mps.is_available()
    if name == "auto":
        return torch.device("cuda" if cuda else "mps" if mps else "cpu")
    if name == "cuda" and not cuda:
        raise ConfigError("--device cuda: no CUDA GPU is available to this torch; use --device auto or cpu")
    if name == "mps" and not mps:
        raise ConfigError("--device mps: Apple's Metal backend is not available here; use --device auto or cpu")
    if name not in ("cpu", "cuda", "mps"):
        raise ConfigError(f"unknown device {name!r}; choose one of auto, cpu, cuda, mps")
    return torch.device(name)


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


def choose_precision(requested: str, device: torch.device, *, shape: str, measure: Callable[[], float]) -> Precision:
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
        return Precision("bf16", "asked for")
    if device.type == "cuda":
        return Precision("bf16", "auto: the GPU supports it") if cuda_bf16 else Precision("fp32", "auto: no bf16 on this GPU")
    key = hashlib.sha256(f"{machine_id(device)}|{shape}".encode()).hexdigest()[:16]
    path = cache_dir() / "precision.json"
    known = _read_cache(path)
    ratio = known.get(key)
    how = "measured earlier"
    if not isinstance(ratio, (int, float)):
        ratio, how = measure(), "measured"
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            write_json(path, {**known, key: ratio})
        except (SaveError, OSError):
            pass  # an unwritable cache costs only the measurement next time
    if ratio >= BF16_MARGIN:
        return Precision("bf16", f"auto: {how} {ratio:.2f}x the speed of fp32 here")
    return Precision("fp32", f"auto: bf16 {how} at {ratio:.2f}x the speed of fp32 here, not worth it")


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


def cpu_model() -> str:
    """The processor's name (``Intel(R) Xeon(R) Processor``)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def cpu_flags() -> set[str]:
    """The processor's feature flags (Linux); empty elsewhere."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("flags"):
                return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


def cores() -> int:
    """CPU cores this process may use."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def set_threads(threads: int) -> int:
    """Set torch's intra-op threads (0: one per core this process may use); returns the count."""
    available = cores()
    if threads > available:
        raise ConfigError(
            f"--threads {threads} is more than the {available} cores this process may use; give at most {available} (0: one per core)"
        )
    threads = threads if threads > 0 else available
    if torch.get_num_threads() != threads:
        torch.set_num_threads(threads)
    return threads


def describe(device: torch.device) -> str:
    """A short label for logs: ``cuda (NVIDIA H200)`` or ``cpu (2 threads)``."""
    if device.type == "cuda":
        return f"cuda ({torch.cuda.get_device_name(device)})"
    if device.type == "cpu":
        return f"cpu ({torch.get_num_threads()} threads)"
    return device.type
