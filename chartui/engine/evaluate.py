"""Scoring a model on text: loss in nats per character, bits per character, perplexity.

The text is cut into a few long contiguous streams read in parallel with the hidden state
carried along, so every character after the first is predicted once, with its real context
(not from a fresh state every 50 characters). The same function scores the validation split
during training and any file in ``chartui eval``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from chartui.engine.metrics import perplexity
from chartui.errors import CorpusError

# Parallel streams and columns per forward call: wide enough to keep a CPU or GPU busy,
# long enough that the zero state at each stream's start costs nothing measurable.
STREAMS = 16
CHUNK = 512


@dataclass(frozen=True)
class EvalResult:
    """Scores over ``chars`` predicted characters."""

    loss: float
    """Mean negative log-likelihood, nats per character."""
    chars: int
    skipped: int = 0
    """Characters of the text that are not in the vocabulary (dropped before scoring)."""

    @property
    def bits_per_char(self) -> float:
        return self.loss / math.log(2)

    @property
    def perplexity(self) -> float | None:
        return perplexity(self.loss)

    def to_dict(self) -> dict:
        return {
            "loss": self.loss,
            "bits_per_char": self.bits_per_char,
            "perplexity": self.perplexity,
            "chars": self.chars,
            "skipped": self.skipped,
        }


@torch.inference_mode()
def evaluate_ids(
    model,
    ids: np.ndarray | torch.Tensor,
    *,
    device: torch.device | str | None = None,
    streams: int = STREAMS,
    chunk: int = CHUNK,
    skipped: int = 0,
) -> EvalResult:
    """Score ``ids`` (N,): the mean loss over its N-1 next-character predictions."""
    data = torch.as_tensor(ids).long()
    n = data.numel() - 1
    if n < 1:
        raise CorpusError("the text to score needs at least 2 characters the model knows")
    device = torch.device(device) if device is not None else next(model.parameters()).device
    was_training = model.training
    model.eval()
    S = max(1, min(streams, n // 64 or 1))
    L = math.ceil(n / S)
    x = torch.zeros(S * L, dtype=torch.long)
    y = torch.full((S * L,), -100, dtype=torch.long)  # -100: padding, ignored by the loss
    x[:n] = data[:n]
    y[:n] = data[1 : n + 1]
    x, y = x.view(S, L).to(device), y.view(S, L).to(device)  # (S, L): stream s covers [s*L, s*L+L)
    total = torch.zeros((), dtype=torch.float64, device=device)
    state = None
    try:
        for start in range(0, L, chunk):
            xb, yb = x[:, start : start + chunk], y[:, start : start + chunk]
            logits, state = model(xb, state)  # (S, T, V), in fp32: every reported loss is comparable
            total += F.cross_entropy(
                logits.float().reshape(-1, logits.shape[-1]), yb.reshape(-1), ignore_index=-100, reduction="sum"
            ).double()
    finally:
        model.train(was_training)
    return EvalResult(loss=float(total) / n, chars=n, skipped=skipped)
