"""Training batches from one integer array, addressed by (epoch, index) so a resume can
rebuild exactly the batch it stopped at with no iterator state to save.

- ``WindowBatches``: the chapter's shuffled, non-overlapping windows; each epoch visits every
  window once in an order drawn from (seed, epoch).
- ``StreamBatches``: B parallel streams, each a contiguous stretch of the corpus, read left
  to right so the hidden state can be carried from one batch to the next (Exercise 35.5).
  Each epoch shifts the cut points by a random offset below seq_len, drawn from (seed, epoch),
  so the model does not always see the same truncation boundaries.

In both, targets are the inputs shifted by one character. The array may be a memory map:
each batch reads only its own characters. Under DDP each of ``world`` processes takes its own
block of the global batch's rows (for streams: its own contiguous stretches of the text), so
the union of the ranks' batches is the one-process batch.
"""

from __future__ import annotations

import numpy as np
import torch

from chartui.errors import ConfigError, CorpusError


def _generator(seed: int, epoch: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed * 1_000_003 + epoch)


def _too_short(n: int, need: int, batch: int, seq_len: int) -> CorpusError:
    return CorpusError(
        f"the training text ({n:,} characters) is shorter than one batch ({need:,} needed for "
        f"--batch-size {batch} and --seq-len {seq_len}); use a longer corpus or smaller --batch-size/--seq-len"
    )


class _Batches:
    carries_state = False

    def __init__(
        self,
        data: np.ndarray,
        *,
        seq_len: int,
        batch: int,
        seed: int,
        device: torch.device | str = "cpu",
        rank: int = 0,
        world: int = 1,
    ) -> None:
        if batch % world:
            raise ConfigError(f"--batch-size {batch} does not split evenly over {world} processes; give a multiple of {world}")
        self.data, self.seq_len, self.batch, self.seed = data, seq_len, batch, seed
        self.device = torch.device(device)
        rows = batch // world
        self.rows = slice(rank * rows, (rank + 1) * rows)
        """This process's rows of each global batch."""
        self._offsets = np.arange(seq_len)

    def _pair(self, ix: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
        """(x, y) for (b, T) positions: the characters there and the ones after, int64 on the device."""
        x, y = np.asarray(self.data[ix]), np.asarray(self.data[ix + 1])
        return torch.from_numpy(x.astype(np.int64)).to(self.device), torch.from_numpy(y.astype(np.int64)).to(self.device)


class WindowBatches(_Batches):
    """Shuffled non-overlapping windows of ``seq_len`` characters, ``batch`` per step."""

    def __init__(self, data: np.ndarray, **kwargs) -> None:
        super().__init__(data, **kwargs)
        self.windows = (len(data) - 1) // self.seq_len
        self.steps_per_epoch = self.windows // self.batch
        if self.steps_per_epoch < 1:
            raise _too_short(len(data), self.batch * self.seq_len + 1, self.batch, self.seq_len)
        self._perm_epoch = -1
        self._perm = np.empty(0, dtype=np.int64)

    def get(self, epoch: int, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        """(x, y), each (B, T) int64 on the device: batch ``index`` of ``epoch``."""
        if epoch != self._perm_epoch:
            # int32 while it fits: half the memory of a big corpus's window order (the same order)
            dtype = torch.int32 if self.windows < 2**31 else torch.int64
            self._perm = torch.randperm(self.windows, generator=_generator(self.seed, epoch), dtype=dtype).numpy()
            self._perm_epoch = epoch
        starts = self._perm[index * self.batch : (index + 1) * self.batch].astype(np.int64) * self.seq_len  # (B,)
        return self._pair(starts[self.rows, None] + self._offsets)  # (b, T)


class StreamBatches(_Batches):
    """``batch`` contiguous streams read in steps of ``seq_len`` characters."""

    carries_state = True

    def __init__(self, data: np.ndarray, **kwargs) -> None:
        super().__init__(data, **kwargs)
        self.stream_len = (len(data) - 1) // self.batch
        # With any offset below seq_len, the last target stays inside the stream.
        self.steps_per_epoch = (self.stream_len - self.seq_len) // self.seq_len
        if self.steps_per_epoch < 1:
            raise _too_short(len(data), self.batch * 2 * self.seq_len + 1, self.batch, self.seq_len)
        self._starts = np.arange(self.batch) * self.stream_len  # (B,)
        self._shift_epoch = -1
        self._shift = 0

    def offset(self, epoch: int) -> int:
        """Where each stream starts reading in ``epoch`` (0 in the first epoch)."""
        if epoch != self._shift_epoch:
            self._shift = 0 if epoch == 0 else int(torch.randint(self.seq_len, (1,), generator=_generator(self.seed, epoch)))
            self._shift_epoch = epoch
        return self._shift

    def get(self, epoch: int, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        """(x, y), each (B, T) int64 on the device; row b of batch i+1 continues row b of batch i."""
        first = self._starts[self.rows] + self.offset(epoch) + index * self.seq_len  # (b,)
        return self._pair(first[:, None] + self._offsets)  # (b, T)


def make_batches(
    kind: str,
    data: np.ndarray,
    *,
    seq_len: int,
    batch: int,
    seed: int,
    device: torch.device | str = "cpu",
    rank: int = 0,
    world: int = 1,
) -> WindowBatches | StreamBatches:
    """The batcher for ``--batching windows|stateful`` over ``data`` (numpy, maybe memory-mapped)."""
    cls = StreamBatches if kind == "stateful" else WindowBatches
    return cls(data, seq_len=seq_len, batch=batch, seed=seed, device=device, rank=rank, world=world)
