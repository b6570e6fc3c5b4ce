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
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from chartui.config import WINDOW_BLOCK, WINDOW_COUNT, DynamicSettings
from chartui.engine.metrics import perplexity
from chartui.errors import CorpusError

# Parallel streams and columns per forward call: wide enough to keep a CPU or GPU busy,
# long enough that the zero state at each stream's start costs nothing measurable.
STREAMS = 16
CHUNK = 512


def _as_numpy(ids: np.ndarray | torch.Tensor) -> np.ndarray:
    return ids.numpy() if isinstance(ids, torch.Tensor) else ids


def _long(ids: np.ndarray) -> torch.Tensor:
    """Some ids (a slice or a gather of a maybe read-only memory map) as an int64 tensor."""
    return torch.from_numpy(np.array(ids, dtype=np.int64))  # a copy: writable, whatever the source


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


class Cancelled(Exception):
    """An evaluation stopped before its end because its ``cancelled`` check said so."""


@torch.inference_mode()
def evaluate_ids(
    model,
    ids: np.ndarray | torch.Tensor,
    *,
    device: torch.device | str | None = None,
    streams: int = STREAMS,
    chunk: int = CHUNK,
    skipped: int = 0,
    cancelled: Callable[[], bool] | None = None,
) -> EvalResult:
    """Score ``ids`` (N,): the mean loss over its N-1 next-character predictions.

    ``ids`` may be a memory map: it is read a block of columns at a time, never whole.
    ``cancelled``, asked before each block, ends the evaluation early by raising ``Cancelled``
    (a trainer told to stop saves its checkpoint without waiting for a whole score)."""
    data = _as_numpy(ids)
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
            if cancelled is not None and cancelled():
                raise Cancelled
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
    block: int = WINDOW_BLOCK,
    windows: int = WINDOW_COUNT,
    seed: int = 0,
    batch: int = 64,
    device: torch.device | str | None = None,
) -> EvalResult:
    """nanoGPT's protocol: the mean loss over ``windows`` random windows of ``block``
    characters of ``ids``, each read from a zero state (starts drawn from ``seed``)."""
    data = _as_numpy(ids)  # maybe a memory map: only the windows are read
    if len(data) < block + 1:
        raise CorpusError(f"the text to score has {len(data):,} characters; windows of {block} need at least {block + 1}")
    device = torch.device(device) if device is not None else next(model.parameters()).device
    was_training = model.training
    model.eval()
    starts = torch.randint(0, len(data) - block, (windows,), generator=torch.Generator().manual_seed(seed)).numpy()
    offsets = np.arange(block)
    total = 0.0
    try:
        for i in range(0, windows, batch):
            ix = starts[i : i + batch, None] + offsets  # (B, T)
            logits, _ = model(_long(data[ix]).to(device))  # (B, T, V), from a zero state
            total += float(
                F.cross_entropy(
                    logits.float().reshape(-1, logits.shape[-1]), _long(data[ix + 1]).to(device).reshape(-1), reduction="sum"
                )
            )
    finally:
        model.train(was_training)
    return EvalResult(loss=total / (windows * block), chars=windows * block)


def evaluate_dynamic(
    model,
    ids: np.ndarray | torch.Tensor,
    *,
    train_ids: np.ndarray | torch.Tensor,
    settings: DynamicSettings | None = None,
    device: torch.device | str | None = None,
) -> EvalResult:
    """Score ``ids`` as one stream while a copy of the model adapts to it: each segment is
    scored, then the copy takes one step on it, ``theta -= lr * grad / rms + decay * (theta0 -
    theta) * rms0 / mean(rms0)``, where rms0 is each weight's gradient RMS over ``train_ids``
    and rms starts there and follows the gradients met since (decaying by ``beta``).
    The model passed in is not changed."""
    from chartui.engine.models import CharModel, detach_state

    if settings is None:
        settings = DynamicSettings()

    data, train = _as_numpy(ids), _as_numpy(train_ids)  # read a segment at a time
    n = len(data) - 1
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

    def loss_on(x: np.ndarray, y: np.ndarray, state):
        logits, state = adapted(_long(x)[None].to(device), state)  # (1, T, V)
        return F.cross_entropy(logits.float()[0], _long(y).to(device), reduction="sum"), state

    # Each weight's gradient RMS on training text: how large its steps should be. Segments are
    # spread over the text given, each after a short warm-up of the state.
    squares = [torch.zeros_like(p) for p in params]
    w = min(T, (len(train) - 1) // 2)  # warm-up and measured lengths
    if w < 1:
        raise CorpusError("dynamic evaluation needs some training text to measure gradient scales on")
    batches = max(1, min(settings.rms_batches, (len(train) - 1) // (2 * w)))
    spacing = (len(train) - 1 - 2 * w) // batches
    for b in range(batches):
        start = b * spacing
        with torch.no_grad():
            _, state = adapted(_long(train[start : start + w])[None].to(device))  # warm-up, not measured
        loss, _ = loss_on(train[start + w : start + 2 * w], train[start + w + 1 : start + 2 * w + 1], state)
        grads = torch.autograd.grad(loss / w, params)
        for sq, g in zip(squares, grads):
            sq += g.detach() ** 2
    rms = [torch.sqrt(sq / batches) for sq in squares]
    mean_rms = torch.cat([r.flatten() for r in rms]).mean()
    # A weight never exercised on the sample (an unseen character's embedding row) gets a floor
    # of a tenth of its tensor's mean scale, not a near-zero one.
    rms = [torch.clamp(r, min=max(0.1 * float(r.mean()), 1e-12)) for r in rms]
    # The normaliser then keeps learning as the text is read (RMSprop-style), so a surprise
    # (a character the model had all but ruled out) cannot take an unbounded step: a weight
    # moves at most lr / sqrt(1 - beta) per segment.
    squares = [r**2 for r in rms]
    beta = settings.beta

    total, state = 0.0, None
    for start in range(0, n, T):
        stop = min(start + T, n)
        loss, state = loss_on(data[start:stop], data[start + 1 : stop + 1], state)
        total += float(loss.detach())  # scored before it is learned from
        grads = torch.autograd.grad(loss / (stop - start), params)
        with torch.no_grad():
            for p, p0, g, r, sq in zip(params, origin, grads, rms, squares):
                sq.mul_(beta).addcmul_(g, g, value=1 - beta)
                p.sub_(settings.lr * g / sq.sqrt())
                p.add_(torch.clamp(settings.decay * r / mean_rms, max=1.0) * (p0 - p))
        state = detach_state(state)
    return EvalResult(loss=total / n, chars=n)
