"""Training batches from one integer tensor, addressed by (epoch, index) so a resume can
rebuild exactly the batch it stopped at with no iterator state to save.

- ``WindowBatches``: the chapter's shuffled, non-overlapping windows; each epoch visits every
  window once in an order drawn from (seed, epoch).
- ``StreamBatches``: B parallel streams, each a contiguous stretch of the corpus, read left
  to right so the hidden state can be carried from one batch to the next (Exercise 35.5).
  Each epoch shifts the cut points by a random offset below seq_len, drawn from (seed, epoch),
  so the model does not always see the same truncation boundaries.

In both, targets are the inputs shifted by one character.
"""

from __future__ import annotations

import torch

from chartui.errors import CorpusError


def _generator(seed: int, epoch: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed * 1_000_003 + epoch)


def _too_short(n: int, need: int, batch: int, seq_len: int) -> CorpusError:
    return CorpusError(
        f"the training text ({n:,} characters) is shorter than one batch ({need:,} needed for "
        f"--batch-size {batch} and --seq-len {seq_len}); use a longer corpus or smaller --batch-size/--seq-len"
    )


class WindowBatches:
    """Shuffled non-overlapping windows of ``seq_len`` characters, ``batch`` per step."""

    carries_state = False

    def __init__(self, data: torch.Tensor, *, seq_len: int, batch: int, seed: int) -> None:
        self.data, self.seq_len, self.batch, self.seed = data, seq_len, batch, seed
        self.windows = (data.numel() - 1) // seq_len
        self.steps_per_epoch = self.windows // batch
        if self.steps_per_epoch < 1:
            raise _too_short(data.numel(), batch * seq_len + 1, batch, seq_len)
        self._offsets = torch.arange(seq_len, device=data.device)
        self._perm_epoch = -1
        self._perm = torch.empty(0)

    def get(self, epoch: int, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        """(x, y), each (B, T) int64: batch ``index`` of ``epoch``."""
        if epoch != self._perm_epoch:
            self._perm = torch.randperm(self.windows, generator=_generator(self.seed, epoch)).to(self.data.device)
            self._perm_epoch = epoch
        starts = self._perm[index * self.batch : (index + 1) * self.batch] * self.seq_len  # (B,)
        ix = starts[:, None] + self._offsets  # (B, T)
        return self.data[ix].long(), self.data[ix + 1].long()


class StreamBatches:
    """``batch`` contiguous streams read in steps of ``seq_len`` characters."""

    carries_state = True

    def __init__(self, data: torch.Tensor, *, seq_len: int, batch: int, seed: int) -> None:
        self.data, self.seq_len, self.batch, self.seed = data, seq_len, batch, seed
        self.stream_len = (data.numel() - 1) // batch
        # With any offset below seq_len, the last target stays inside the stream.
        self.steps_per_epoch = (self.stream_len - seq_len) // seq_len
        if self.steps_per_epoch < 1:
            raise _too_short(data.numel(), batch * 2 * seq_len + 1, batch, seq_len)
        self._starts = torch.arange(batch, device=data.device) * self.stream_len  # (B,)
        self._offsets = torch.arange(seq_len, device=data.device)
        self._shift_epoch = -1
        self._shift = 0

    def offset(self, epoch: int) -> int:
        """Where each stream starts reading in ``epoch`` (0 in the first epoch)."""
        if epoch != self._shift_epoch:
            self._shift = 0 if epoch == 0 else int(torch.randint(self.seq_len, (1,), generator=_generator(self.seed, epoch)))
            self._shift_epoch = epoch
        return self._shift

    def get(self, epoch: int, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        """(x, y), each (B, T) int64; row b of batch i+1 continues row b of batch i."""
        first = self._starts + self.offset(epoch) + index * self.seq_len  # (B,)
        ix = first[:, None] + self._offsets  # (B, T)
        return self.data[ix].long(), self.data[ix + 1].long()


def make_batches(kind: str, data: torch.Tensor, *, seq_len: int, batch: int, seed: int) -> WindowBatches | StreamBatches:
    """The batcher for ``--batching windows|stateful``."""
    cls = StreamBatches if kind == "stateful" else WindowBatches
    return cls(data, seq_len=seq_len, batch=batch, seed=seed)
