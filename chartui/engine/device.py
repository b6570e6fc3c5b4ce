"""Choosing where to compute: cuda, then mps, then cpu; CPU threads and memory.

torch is imported inside the functions that need it: ``available_memory`` and ``cores``
serve the torch-free paths (``chartui sample`` and ``gates``) too.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable
from pathlib import Path
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
        # Only on a change: it rebuilds torch's thread pools from the calling thread, whose
        # priority they inherit (the app trains in a lowered thread: chartui.priority).
        torch.set_num_threads(threads)
    return threads


def busy_cpu_seconds(cpus: set[int] | None = None, stat: Path = Path("/proc/stat")) -> float | None:
    """CPU seconds every process together has spent on ``cpus`` (default: the cores this
    process may use) since boot, from /proc/stat: user, nice, system, irq, softirq and steal
    (time the hypervisor gave to someone else). None where there is no /proc/stat (Linux only)."""
    cpus = cpus if cpus is not None else os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else None
    try:
        lines = stat.read_text().splitlines()
    except OSError:
        return None
    ticks, found = 0, False
    for line in lines:
        name, _, rest = line.partition(" ")
        if not name.startswith("cpu") or not name[3:].isdigit() or (cpus is not None and int(name[3:]) not in cpus):
            continue
        fields = [int(f) for f in rest.split()[:8]]
        if len(fields) == 8:
            user, nice, system, _idle, _iowait, irq, softirq, steal = fields
            ticks += user + nice + system + irq + softirq + steal
            found = True
    return ticks / os.sysconf("SC_CLK_TCK") if found else None


class ThreadGovernor:
    """``--threads 0`` on a CPU: as many torch threads as the cores other processes leave free.

    torch's threads meet at the end of every operation, so one that waits for a core holds up
    the others: on two cores with a reader busy on one, two threads train far slower than one.
    Every ``every`` seconds ``poll`` compares the CPU time spent on this process's cores by
    everyone (/proc/stat) with this process's own, and wants ``cores - others`` threads
    (rounded, at least one); it changes only when two windows in a row want the same count, so
    one short command does not make it flap.

    It sees the CPU others got, not what they wanted: a busy trainer that leaves them less than
    half a core keeps its threads. Off Linux (no /proc/stat) the count never changes.
    """

    def __init__(
        self,
        most: int,
        every: float = 5.0,
        *,
        busy: Callable[[], float | None] = busy_cpu_seconds,
        own: Callable[[], float] = time.process_time,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.most = self.threads = most
        self.every = every
        self.others = 0.0
        """Cores other processes used over the last window."""
        self._busy, self._own, self._clock = busy, own, clock
        self._last: tuple[float, float, float] | None = None
        self._wanted = most

    def poll(self) -> int | None:
        """The new thread count when it should change now, else None (cheap between windows)."""
        now = self._clock()
        if self._last is not None and now - self._last[0] < self.every:
            return None
        busy = self._busy()
        if busy is None:  # no /proc/stat: never change
            self.every = math.inf
            self._last = (now, 0.0, 0.0)
            return None
        last, self._last = self._last, (now, busy, self._own())
        if last is None or now <= last[0]:
            return None
        spent = (busy - last[1]) - (self._last[2] - last[2])
        self.others = max(0.0, spent / (now - last[0]))
        want = max(1, min(self.most, math.floor(self.most - self.others + 0.5)))
        agreed, self._wanted = want == self._wanted, want
        if agreed and want != self.threads:
            self.threads = want
            return want
        return None


def describe(device: torch.device) -> str:
    """A short label for logs: ``cuda (NVIDIA H200)`` or ``cpu (2 threads)``."""
    import torch

    if device.type == "cuda":
        return f"cuda ({torch.cuda.get_device_name(device)})"
    if device.type == "cpu":
        return f"cpu ({torch.get_num_threads()} threads)"
    return device.type
