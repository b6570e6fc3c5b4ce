"""Choosing where to compute: cuda, then mps, then cpu; CPU threads and memory.

torch is imported inside the functions that need it: ``available_memory`` and ``cores``
serve the torch-free paths (``chartui sample`` and ``gates``) too.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from chartui.errors import ConfigError

if TYPE_CHECKING:
    import torch


def pick_device(name: str = "auto") -> torch.device:
    """The torch device for ``auto``/``cpu``/``cuda``/``mps``; an unavailable one is an error."""
    import torch

    cuda = torch.cuda.is_available()
    mps = bool(getattr(torch.backends, "mps", None)) and torch.backends.mps.is_available()
    if name == "auto":
        return torch.device("cuda" if cuda else "mps" if mps else "cpu")
    if name.startswith("cuda") and not cuda:
        raise ConfigError(f"--device {name}: no CUDA GPU is available to this torch; use --device auto or cpu")
    if name.startswith("cuda:"):
        count = torch.cuda.device_count()
        index = int(name[5:]) if name[5:].isdigit() else -1
        if not 0 <= index < count:
            have = ", ".join(f"cuda:{i}" for i in range(count))
            raise ConfigError(
                f"--device {name}: this machine has {count} CUDA GPU{'s' if count != 1 else ''} ({have}); pick one of those"
            )
        return torch.device("cuda", index)
    if name == "mps" and not mps:
        raise ConfigError("--device mps: Apple's Metal backend is not available here; use --device auto or cpu")
    if name not in ("cpu", "cuda", "mps"):
        raise ConfigError(f"unknown device {name!r}; choose one of auto, cpu, cuda, mps")
    return torch.device(name)


def available_memory() -> int:
    """Bytes of memory available to new allocations (0 when unknown)."""
    try:
        for line in open("/proc/meminfo"):  # noqa: SIM115 - read and dropped at once
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError):
        pass
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_AVPHYS_PAGES")
    except (OSError, ValueError, AttributeError):
        return 0


def total_memory(device: torch.device) -> int:
    """Memory the device has in all (0 when unknown)."""
    import torch

    try:
        if device.type == "cuda":
            return torch.cuda.mem_get_info(device)[1]
        if device.type == "cpu":
            return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (OSError, ValueError, RuntimeError, AttributeError):
        pass
    return 0


def check_trainable(params: int, device: torch.device) -> None:
    """Refuse, before allocating anything, a model the device cannot train: weights, gradients
    and AdamW's two moments in fp32 take 16 bytes a parameter."""
    need, have = 16 * params, total_memory(device)
    if have and need > 0.8 * have:
        raise ConfigError(
            f"a model of {params:,} parameters needs about {need / 2**30:.1f} GiB to train and this "
            f"{device.type} has {have / 2**30:.1f} GiB; lower --hidden, --layers or --embed"
        )


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
    import torch

    threads = threads if threads > 0 else available
    if torch.get_num_threads() != threads:
        torch.set_num_threads(threads)
    return threads


def describe(device: torch.device) -> str:
    """A short label for logs: ``cuda (NVIDIA H200)`` or ``cpu (2 threads)``."""
    import torch

    if device.type == "cuda":
        return f"cuda ({torch.cuda.get_device_name(device)})"
    if device.type == "cpu":
        return f"cpu ({torch.get_num_threads()} threads)"
    return device.type
