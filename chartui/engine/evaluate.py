"""Scoring a model on text: loss in nats per character, bits per character, perplexity.

Three protocols, always in fp32:

- ``evaluate_ids`` (the headline, used in training and by ``chartui eval``): the text is cut
  into a few long contiguous streams read in parallel with the hidden state carried along, so
  every character after the first is predicted once, with its real context.
- ``evaluate_windows``: the protocol of nanoGPT's ``estimate_loss``: random windows of
  ``block`` characters, each read from a zero state, every position scored (the first ones with
  almost no context). Use it to compare like with like against nanoGPT's figures.
- ``evaluate_dynamic`` (Krause et al., 2018): a copy of the model keeps learning as it reads,
  one segment at a time, each scored before it is learned from. A separate, clearly labelled
  figure: it never changes the run.
"""

from __future__ import annotations

import copy
import dataclasses
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
    """Score ``ids`` (N,): the mean loss over its N-1 next-character predictions.

    ``ids`` may be a memory map: it is read a block of columns at a time, never whole."""
    data = ids.numpy() if isinstance(ids, torch.Tensor) else ids
    n = len(data) - 1
    if n < 1:
        raise CorpusError("the text to score needs at least 2 characters the model knows")
    device = torch.device(device) if device is not None else next(model.parameters()).device
    was_training = model.training
    model.eval()
    S = max(1, min(streams, n // 64 or 1))
    L = math.ceil(n / S)  # stream s predicts the characters after positions [s*L, s*L + L)
    total = torch.zeros((), dtype=torch.float64, device=device)
    state = None
    try:
        for start in range(0, L, chunk):
            pos = np.arange(S)[:, None] * L + np.arange(start, min(start + chunk, L))[None, :]  # (S, T)
            valid = pos < n  # the last stream may be short: its tail is padding
            safe = np.where(valid, pos, 0)
            xb = torch.from_numpy(np.asarray(data[safe]).astype(np.int64)).to(device)
            yb = torch.from_numpy(np.where(valid, np.asarray(data[safe + 1]).astype(np.int64), -100)).to(device)
            logits, state = model(xb, state)  # (S, T, V), in fp32: every reported loss is comparable
            total += F.cross_entropy(
                logits.float().reshape(-1, logits.shape[-1]), yb.reshape(-1), ignore_index=-100, reduction="sum"
            ).double()
    finally:
        model.train(was_training)
    return EvalResult(loss=float(total) / n, chars=n, skipped=skipped)


@torch.inference_mode()
def evaluate_windows(
    model,
    ids: np.ndarray | torch.Tensor,
    *,
    block: int = 256,
    windows: int = 2000,
    seed: int = 0,
    batch: int = 64,
    device: torch.device | str | None = None,
) -> EvalResult:
    """nanoGPT's protocol: the mean loss over ``windows`` random windows of ``block``
    characters of ``ids``, each read from a zero state (starts drawn from ``seed``)."""
    data = torch.as_tensor(ids).long()
    if data.numel() < block + 1:
        raise CorpusError(f"the text to score has {data.numel():,} characters; windows of {block} need at least {block + 1}")
    device = torch.device(device) if device is not None else next(model.parameters()).device
    was_training = model.training
    model.eval()
    starts = torch.randint(0, data.numel() - block, (windows,), generator=torch.Generator().manual_seed(seed))
    offsets = torch.arange(block)
    total = 0.0
    try:
        for i in range(0, windows, batch):
            ix = starts[i : i + batch, None] + offsets  # (B, T)
            logits, _ = model(data[ix].to(device))  # (B, T, V), from a zero state
            total += float(
                F.cross_entropy(
                    logits.float().reshape(-1, logits.shape[-1]), data[ix + 1].to(device).reshape(-1), reduction="sum"
                )
            )
    finally:
        model.train(was_training)
    return EvalResult(loss=total / (windows * block), chars=windows * block)


@dataclass(frozen=True)
class DynamicSettings:
    """Dynamic evaluation with the RMS update of Krause et al. (2018)."""

    segment: int = 50
    """Characters scored, then learned from, at a time."""
    lr: float = 0.002
    """Step size of each update (scaled per weight by its gradients' RMS on training text)."""
    decay: float = 0.01
    """Pull back toward the trained weights at every update, so adaptation stays local."""
    rms_batches: int = 100
    """Segments of training text used to measure each weight's typical gradient (the RMS)."""

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def evaluate_dynamic(
    model,
    ids: np.ndarray | torch.Tensor,
    *,
    train_ids: np.ndarray | torch.Tensor,
    settings: DynamicSettings = DynamicSettings(),
    device: torch.device | str | None = None,
) -> EvalResult:
    """Score ``ids`` as one stream while a copy of the model adapts to it: each segment is
    scored, then the copy takes one step on it, ``theta -= lr * grad / rms + decay * (theta0 -
    theta) * rms / mean(rms)``, where rms is each weight's gradient RMS over ``train_ids``.
    The model passed in is not changed."""
    from chartui.engine.models import CharModel, detach_state

    data, train = torch.as_tensor(ids).long(), torch.as_tensor(train_ids).long()
    n = data.numel() - 1
    if n < 1:
        raise CorpusError("the text to score needs at least 2 characters the model knows")
    device = torch.device(device) if device is not None else next(model.parameters()).device
    quiet = dataclasses.replace(
        model.config, dropout=0.0, weight_drop=0.0, input_dropout=0.0, output_dropout=0.0, embed_dropout=0.0
    )
    adapted = CharModel(quiet, model.vocab_size).to(device)
    adapted.load_state_dict(copy.deepcopy(model.state_dict()))
    adapted.train()  # no dropout left to act; train mode only so every backend allows a backward pass
    params = [p for p in adapted.parameters()]
    origin = [p.detach().clone() for p in params]
    T = settings.segment

    def loss_on(x: torch.Tensor, y: torch.Tensor, state):
        logits, state = adapted(x[None].to(device), state)  # (1, T, V)
        return F.cross_entropy(logits.float()[0], y.to(device), reduction="sum"), state

    # Each weight's gradient RMS on training text: how large its steps should be.
    squares = [torch.zeros_like(p) for p in params]
    batches = max(1, min(settings.rms_batches, (train.numel() - 1) // T))
    state = None
    for b in range(batches):
        start = b * T
        loss, state = loss_on(train[start : start + T], train[start + 1 : start + T + 1], state)
        grads = torch.autograd.grad(loss / T, params)
        for sq, g in zip(squares, grads):
            sq += g.detach() ** 2
        state = detach_state(state)
    rms = [torch.sqrt(sq / batches) + 1e-8 for sq in squares]
    mean_rms = torch.cat([r.flatten() for r in rms]).mean()

    total, state = 0.0, None
    for start in range(0, n, T):
        stop = min(start + T, n)
        loss, state = loss_on(data[start:stop], data[start + 1 : stop + 1], state)
        total += float(loss.detach())  # scored before it is learned from
        grads = torch.autograd.grad(loss / (stop - start), params)
        with torch.no_grad():
            for p, p0, g, r in zip(params, origin, grads, rms):
                p.sub_(settings.lr * g / r)
                p.add_(torch.clamp(settings.decay * r / mean_rms, max=1.0) * (p0 - p))
        state = detach_state(state)
    return EvalResult(loss=total / n, chars=n)
