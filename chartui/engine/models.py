"""Character models: embedding -> recurrent stack (RNN, LSTM or GRU) -> linear head.

One interface for every cell type, ``forward(idx, state=None) -> (logits, state)``, so
training, sampling, evaluation and gate tracing never branch on the architecture except
where the gates themselves differ (chartui.engine.replay). The recurrent stack is torch's
fused module (cuDNN on a GPU, oneDNN on a CPU): the fastest way to train these cells.
"""

from __future__ import annotations

from typing import Union

import torch
from torch import nn

from chartui.config import ModelConfig

# An LSTM carries (h, c); RNN and GRU carry h. Each is (layers, B, H).
State = Union[torch.Tensor, tuple[torch.Tensor, torch.Tensor]]

_CELLS = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}


class CharModel(nn.Module):
    """A character-level language model with the chapter's shape."""

    def __init__(self, config: ModelConfig, vocab_size: int) -> None:
        super().__init__()
        self.config = config
        self.vocab_size = vocab_size
        self.embedding = nn.Embedding(vocab_size, config.embed)
        self.rnn = _CELLS[config.arch](
            config.embed,
            config.hidden,
            num_layers=config.layers,
            # torch applies this between layers only; with one layer it must be 0.
            dropout=config.dropout if config.layers > 1 else 0.0,
            batch_first=True,
        )
        self.drop = nn.Dropout(config.dropout)
        self.head = nn.Linear(config.hidden, vocab_size)

    def forward(self, idx: torch.Tensor, state: State | None = None) -> tuple[torch.Tensor, State]:
        """Logits for the next character at every position, and the state after the last one.

        idx: (B, T) character ids. Returns logits (B, T, V) and the final state.
        """
        x = self.embedding(idx)  # (B, T, E)
        out, state = self.rnn(x, state)  # (B, T, H)
        logits = self.head(self.drop(out))  # (B, T, V)
        return logits, state

    def features(self, idx: torch.Tensor, state: State | None = None) -> tuple[torch.Tensor, State]:
        """The top layer's hidden states (B, T, H) and the final state, without the head."""
        out, state = self.rnn(self.embedding(idx), state)
        return out, state

    def init_state(self, batch: int, device: torch.device | str = "cpu") -> State:
        """A zero state for ``batch`` streams."""
        h = torch.zeros(self.config.layers, batch, self.config.hidden, device=device)
        if self.config.arch == "lstm":
            return (h, torch.zeros_like(h))
        return h

    def param_breakdown(self) -> dict[str, int]:
        """Parameter counts by part: embedding, recurrent, head, and the total."""
        counts = {
            "embedding": sum(p.numel() for p in self.embedding.parameters()),
            "recurrent": sum(p.numel() for p in self.rnn.parameters()),
            "head": sum(p.numel() for p in self.head.parameters()),
        }
        counts["total"] = sum(counts.values())
        return counts


def detach_state(state: State | None) -> State | None:
    """Cut the graph behind a carried state (truncated backpropagation through time)."""
    if state is None:
        return None
    if isinstance(state, tuple):
        return tuple(s.detach() for s in state)  # type: ignore[return-value]
    return state.detach()


def state_tensors(state: State | None) -> dict[str, torch.Tensor]:
    """A carried state as named tensors (for checkpoints)."""
    if state is None:
        return {}
    if isinstance(state, tuple):
        return {"h": state[0], "c": state[1]}
    return {"h": state}


def state_from_tensors(tensors: dict[str, torch.Tensor]) -> State | None:
    """Inverse of ``state_tensors``."""
    if "h" not in tensors:
        return None
    if "c" in tensors:
        return (tensors["h"], tensors["c"])
    return tensors["h"]
