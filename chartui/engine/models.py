"""Character models: embedding -> recurrent stack (any registered cell) -> linear head.

One interface for every cell, ``forward(idx, state=None) -> (logits, state)``, so training,
sampling, evaluation and gate tracing never branch on the architecture: what differs between
cells lives in chartui.engine.cells. The carried state is a tuple of (layers, B, H) tensors,
named by the cell's ``state`` (``h``, or ``h`` and ``c``). The built-in stacks are torch's
fused modules (cuDNN on a GPU, oneDNN on a CPU): the fastest way to train these cells.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
import torch.nn.functional as F
from torch import nn
from torch.func import functional_call

from chartui.config import ModelConfig
from chartui.engine import cells
from chartui.errors import CheckpointError

State = tuple[torch.Tensor, ...]

# The weights whose shape depends on the vocabulary: a mismatch there means the vocabulary
# recorded with the weights is not the one they were trained with.
VOCAB_SHAPED = ("embedding.weight", "head.weight", "head.bias")


class CharModel(nn.Module):
    """A character-level language model with the chapter's shape."""

    def __init__(self, config: ModelConfig, vocab_size: int) -> None:
        super().__init__()
        self.config = config
        self.cell = cells.get(config.arch)
        self.vocab_size = vocab_size
        self.embedding = nn.Embedding(vocab_size, config.embed)
        self.rnn = self.cell.module(config.embed, config.hidden, config.layers, config.dropout)
        self.drop = nn.Dropout(config.dropout)
        self.head = nn.Linear(config.hidden, vocab_size)

    def forward(self, idx: torch.Tensor, state: State | None = None) -> tuple[torch.Tensor, State]:
        """Logits for the next character at every position, and the state after the last one.

        idx: (B, T) character ids. Returns logits (B, T, V) and the final state.
        """
        out, state = self.features(idx, state)  # (B, T, H)
        logits = self.head(self.drop(out))  # (B, T, V)
        return logits, state

    def features(self, idx: torch.Tensor, state: State | None = None) -> tuple[torch.Tensor, State]:
        """The top layer's hidden states (B, T, H) and the final state, without the head.

        In training mode the regularisers act (embedding, input and output dropout, weight
        drop); in eval mode (evaluation, sampling, tracing) none does."""
        cfg = self.config
        x = locked_dropout(self._embed(idx), cfg.input_dropout, self.training)  # (B, T, E)
        if self.training and cfg.weight_drop > 0:
            # DropConnect on the recurrent matrices, one mask per call (per batch): the masked
            # weights stand in for the parameters for this call, so the fused kernel still runs.
            dropped = {
                name: F.dropout(getattr(self.rnn, name), cfg.weight_drop) for name in self.cell.recurrent_weights(cfg.layers)
            }
            out, state = functional_call(self.rnn, dropped, (x, state))
        else:
            out, state = self.rnn(x, state)
        return locked_dropout(out, cfg.output_dropout, self.training), state  # (B, T, H)

    def _embed(self, idx: torch.Tensor) -> torch.Tensor:
        """Embeddings (B, T, E); in training, embed_dropout drops whole characters (rows)."""
        p = self.config.embed_dropout
        if not (self.training and p > 0):
            return self.embedding(idx)
        weight = self.embedding.weight  # (V, E)
        keep = weight.new_empty(weight.shape[0], 1).bernoulli_(1 - p) / (1 - p)  # (V, 1)
        return F.embedding(idx, weight * keep)

    def param_breakdown(self) -> dict[str, int]:
        """Parameter counts by part: embedding, recurrent, head, and the total."""
        counts = {
            "embedding": sum(p.numel() for p in self.embedding.parameters()),
            "recurrent": sum(p.numel() for p in self.rnn.parameters()),
            "head": sum(p.numel() for p in self.head.parameters()),
        }
        counts["total"] = sum(counts.values())
        return counts

    @classmethod
    def from_weights(cls, config: ModelConfig, vocab_size: int, weights: Mapping[str, torch.Tensor], *, label: str) -> CharModel:
        """The model with ``weights``, after checking every name, shape and dtype against the
        config (on the meta device first: metadata claiming a huge model allocates nothing).
        ``label`` names the source in the CheckpointError."""
        with torch.device("meta"):
            expected = cls(config, vocab_size).state_dict()
        missing = sorted(set(expected) - set(weights))
        extra = sorted(set(weights) - set(expected))
        if missing or extra:
            what = f"missing {missing[0]}" if missing else f"unexpected {extra[0]}"
            raise CheckpointError(f"{label}: weights do not match the model in its metadata ({what})")
        for name, want in expected.items():
            have = weights[name]
            if tuple(have.shape) != tuple(want.shape):
                hint = " (the vocabulary does not match the weights)" if name in VOCAB_SHAPED else ""
                raise CheckpointError(
                    f"{label}: {name} has shape {tuple(have.shape)}, the metadata implies {tuple(want.shape)}{hint}"
                )
            if have.dtype not in (torch.float32, torch.float16, torch.bfloat16):
                raise CheckpointError(f"{label}: {name} has dtype {have.dtype}; weights must be floating point")
        model = cls(config, vocab_size)
        model.load_state_dict({k: v.float() for k, v in weights.items()})
        return model.eval()


def locked_dropout(x: torch.Tensor, p: float, training: bool) -> torch.Tensor:
    """Variational dropout on (B, T, C): one mask per sequence, the same at every step."""
    if not training or p <= 0:
        return x
    keep = x.new_empty(x.shape[0], 1, x.shape[2]).bernoulli_(1 - p) / (1 - p)  # (B, 1, C)
    return x * keep


def detach_state(state: State | None) -> State | None:
    """Cut the graph behind a carried state (truncated backpropagation through time)."""
    return None if state is None else tuple(s.detach() for s in state)


def state_tensors(cell: cells.CellSpec, state: State | None) -> dict[str, torch.Tensor]:
    """A carried state as named tensors (for checkpoints)."""
    return {} if state is None else dict(zip(cell.state, state))


def state_from_tensors(cell: cells.CellSpec, tensors: Mapping[str, torch.Tensor]) -> State | None:
    """Inverse of ``state_tensors``: None when nothing was carried."""
    if not tensors:
        return None
    return tuple(tensors[name] for name in cell.state)
