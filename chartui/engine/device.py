"""Choosing where to compute: cuda, then mps, then cpu; precision and CPU threads."""

from __future__ import annotations

import os

import torch

from chartui.errors import ConfigError


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


def autocast_dtype(device: torch.device) -> torch.dtype | None:
    """bf16 autocast on CUDA GPUs that support it; full precision elsewhere."""
    if device.type == "cuda" and torch.cuda.is_bf16_supported():
        return torch.bfloat16
    return None


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
    """A short label for logs: ``cuda (NVIDIA H200, bf16)`` or ``cpu (2 threads)``."""
    if device.type == "cuda":
        name = torch.cuda.get_device_name(device)
        return f"cuda ({name}{', bf16' if autocast_dtype(device) else ''})"
    if device.type == "cpu":
        return f"cpu ({torch.get_num_threads()} threads)"
    return device.type
