"""Training one run in several processes with PyTorch's DistributedDataParallel, as started
by ``torchrun`` (which sets RANK, WORLD_SIZE, LOCAL_RANK and the rendezvous address).

NCCL on CUDA, gloo on the CPU. Rank 0 writes the run (run.json, metrics, samples,
checkpoints); every rank takes the same decisions (stop, evaluate, save) because they are
agreed on in one small all-reduce per step. One process, the usual case, is ``Dist()``: every
helper then does nothing.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import torch
import torch.distributed as dist

# How long a rank waits in a collective: rank 0's evaluation can keep the others waiting a
# while. A rank that dies is noticed sooner: torchrun stops the rest of the job.
TIMEOUT = timedelta(minutes=30)


@dataclass(frozen=True)
class Dist:
    """This process's place in the job."""

    rank: int = 0
    world: int = 1
    local_rank: int = 0

    @property
    def active(self) -> bool:
        return self.world > 1

    @property
    def main(self) -> bool:
        """True for the process that writes the run (rank 0)."""
        return self.rank == 0

    def agree(self, *flags: bool) -> tuple[bool, ...]:
        """Each flag, true on every rank if it is true on any (one all-reduce)."""
        if not self.active:
            return flags
        t = torch.tensor([float(f) for f in flags], device=_device())
        dist.all_reduce(t, op=dist.ReduceOp.MAX)
        return tuple(bool(v) for v in t.tolist())

    def mean(self, values: torch.Tensor) -> torch.Tensor:
        """The mean of ``values`` across ranks (every rank gets it)."""
        if not self.active:
            return values
        values = values.clone()
        dist.all_reduce(values, op=dist.ReduceOp.SUM)
        return values / self.world

    def share(self, obj: Any) -> Any:
        """Rank 0's ``obj``, on every rank."""
        if not self.active:
            return obj
        box = [obj]
        dist.broadcast_object_list(box, src=0)
        return box[0]

    def gather(self, obj: Any) -> list[Any]:
        """Every rank's ``obj``, in rank order, on every rank."""
        if not self.active:
            return [obj]
        out: list[Any] = [None] * self.world
        dist.all_gather_object(out, obj)
        return out

    def on_main(self, fn: Any) -> Any:
        """``fn()`` run by rank 0 alone; its result, or its ChartuiError, reaches every rank."""
        from chartui.errors import ChartuiError

        if not self.active:
            return fn()
        result, error = None, None
        if self.main:
            try:
                result = fn()
            except ChartuiError as exc:
                error = (type(exc), str(exc))
        result, error = self.share((result, error))
        if error is not None:
            raise error[0](error[1])
        return result

    def wait(self) -> None:
        """Until every rank gets here."""
        if self.active:
            dist.barrier()


def _device() -> torch.device:
    return torch.device("cuda", torch.cuda.current_device()) if dist.get_backend() == "nccl" else torch.device("cpu")


def from_environment(device_type: str) -> Dist:
    """The job this process belongs to: torchrun's environment, joined once; ``Dist()`` alone."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return Dist()
    rank, local_rank = int(os.environ["RANK"]), int(os.environ.get("LOCAL_RANK", "0"))
    if not dist.is_initialized():
        if device_type == "cuda":
            torch.cuda.set_device(local_rank)
        dist.init_process_group("nccl" if device_type == "cuda" else "gloo", timeout=TIMEOUT)
    return Dist(rank=rank, world=world, local_rank=local_rank)


def leave(together: bool = False) -> None:
    """Leave the job's process group (at the end of training). ``together``: every rank is
    known to be leaving now (they agreed to stop), so wait for the others first. A rank that
    tore its group down while rank 0 still evaluated and sampled could abort in gloo's
    teardown at exit (SIGABRT, "terminate called without an active exception"); never wait
    after a failure, when the others may never come."""
    if not dist.is_initialized():
        return
    if together:
        try:
            dist.barrier()
        except RuntimeError:  # a rank already left (killed): tear down regardless
            pass
    dist.destroy_process_group()
