"""Streaming generation: an iterator of characters, each with the probability the model gave it.

The prompt is read once by the fused module (fast for long prompts); then each new
character is one replayed step (chartui.engine.replay) from the carried state, never
re-feeding the text. No autograd. Temperature, top-k and top-p are attributes of the
Sampler and may change between characters (the TUI's ``+``/``-`` keys do exactly that).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import torch

from chartui.config import check_sampling
from chartui.engine.corpus import Vocab, describe_chars
from chartui.engine.replay import Replay, numpy_state
from chartui.errors import ConfigError

# Long prompts are read in pieces of this many characters (bounded memory for the logits).
PROMPT_CHUNK = 4096


@dataclass(frozen=True)
class Token:
    """One generated character."""

    char: str
    index: int
    prob: float
    """The model's probability for this character (softmax of its logits at temperature 1,
    before top-k/top-p): how expected it was, whatever the sampling knobs."""


def softmax(logits: np.ndarray) -> np.ndarray:
    """Row-wise softmax of (B, V) logits, stable for any temperature."""
    z = logits - logits.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


def filter_logits(logits: np.ndarray, *, temperature: float, top_k: int | None, top_p: float | None) -> np.ndarray:
    """The distribution to sample from, (B, V): tempered, then cut to top-k, then to top-p.

    Temperature 0 is handled by the caller (greedy). Characters cut by top-k/top-p get
    probability exactly 0; the most likely character always survives.
    """
    z = logits.astype(np.float64) / temperature
    V = z.shape[-1]
    if top_k is not None and top_k < V:
        kth = np.partition(z, V - top_k, axis=-1)[:, V - top_k : V - top_k + 1]  # (B, 1)
        z = np.where(z < kth, -np.inf, z)
    p = softmax(z)
    if top_p is not None and top_p < 1.0:
        order = np.argsort(-p, axis=-1, kind="stable")
        sorted_p = np.take_along_axis(p, order, axis=-1)
        before = np.cumsum(sorted_p, axis=-1) - sorted_p  # mass of the more likely characters
        keep_sorted = before < top_p  # keeps the smallest prefix that reaches top_p (>= 1 char)
        keep = np.zeros_like(keep_sorted)
        np.put_along_axis(keep, order, keep_sorted, axis=-1)
        p = np.where(keep, p, 0.0)
        p /= p.sum(axis=-1, keepdims=True)
    return p


class Sampler:
    """Generates from a model, one character (per stream) at a time.

    Iterate over ``tokens()`` for a single stream or ``steps()`` for ``num_samples`` streams.
    The knobs (``temperature``, ``top_k``, ``top_p``) are read before every character.
    """

    def __init__(
        self,
        model,
        vocab: Vocab,
        *,
        prompt: str = "\n",
        temperature: float = 0.8,
        top_k: int | None = None,
        top_p: float | None = None,
        seed: int = 0,
        num_samples: int = 1,
        replay: Replay | None = None,
    ) -> None:
        check_sampling(temperature=temperature, top_k=top_k, top_p=top_p)
        if num_samples < 1:
            raise ConfigError(f"--num-samples must be a whole number of at least 1 (got {num_samples})")
        if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
            raise ConfigError(f"--seed must be a whole number of at least 0 (got {seed!r})")
        unknown = vocab.unknown(prompt)
        if unknown:
            raise ConfigError(
                f"the prompt has characters this model never saw: {describe_chars(unknown)}; remove them or train on text that has them"
            )
        self.vocab = vocab
        self.temperature, self.top_k, self.top_p = temperature, top_k, top_p
        self.num_samples = num_samples
        self.rng = np.random.default_rng(seed)
        self.replay = replay or Replay(model)
        # An empty prompt starts as if after a newline: the start of a speech.
        primer = prompt or ("\n" if "\n" in vocab else vocab.chars[0])
        self.logits, self.state = _read_prompt(model, vocab, primer, num_samples)

    def set_knobs(
        self, *, temperature: float | None = None, top_k: int | str | None = "keep", top_p: float | str | None = "keep"
    ) -> None:
        """Change the sampling knobs between characters (checked like the constructor's)."""
        t = self.temperature if temperature is None else temperature
        k = self.top_k if top_k == "keep" else top_k
        p = self.top_p if top_p == "keep" else top_p
        check_sampling(temperature=t, top_k=k, top_p=p)  # type: ignore[arg-type]
        self.temperature, self.top_k, self.top_p = t, k, p  # type: ignore[assignment]

    def _choose(self) -> tuple[np.ndarray, np.ndarray]:
        """The next character of each stream, and the model's probability for it."""
        z = self.logits - self.logits.max(axis=-1, keepdims=True)  # (B, V)
        e = np.exp(z)
        model_p = e / e.sum(axis=-1, keepdims=True)
        if self.temperature == 0:
            ids = z.argmax(axis=-1)
        else:
            if self.top_k is not None or self.top_p is not None:
                p = filter_logits(z, temperature=self.temperature, top_k=self.top_k, top_p=self.top_p)
            else:  # unnormalised is enough: the draw scales by the total; z <= 0 so nothing overflows
                p = e if self.temperature == 1 else np.exp(z * (1.0 / self.temperature))
            cdf = np.cumsum(p, axis=-1)
            u = self.rng.random(len(cdf)) * cdf[:, -1]
            ids = np.minimum((cdf <= u[:, None]).sum(axis=-1), cdf.shape[-1] - 1)
        return ids, model_p[np.arange(len(ids)), ids]

    def steps(self) -> Iterator[list[Token]]:
        """Forever: one list of ``num_samples`` tokens per step."""
        chars = self.vocab.chars
        while True:
            ids, probs = self._choose()
            yield [Token(chars[i], int(i), float(p)) for i, p in zip(ids, probs)]
            self.logits, self.state = self.replay.step(ids, self.state)

    def tokens(self, length: int | None = None) -> Iterator[Token]:
        """The first stream's characters: ``length`` of them, or until the caller stops."""
        for n, step in enumerate(self.steps()):
            if length is not None and n >= length:
                return
            yield step[0]


@torch.inference_mode()
def _read_prompt(model, vocab: Vocab, prompt: str, batch: int) -> tuple[np.ndarray, list]:
    """Run the prompt through the fused module; return the last logits (B, V) and the state."""
    model.eval()
    device = next(model.parameters()).device
    ids = torch.from_numpy(vocab.encode(prompt)).to(device)  # (T,), T >= 1
    state = None
    for start in range(0, len(ids), PROMPT_CHUNK):
        piece = ids[start : start + PROMPT_CHUNK].unsqueeze(0).expand(batch, -1)  # (B, T)
        out, state = model.features(piece, state)  # (B, T, H)
    logits = model.head(out[:, -1].float())  # (B, V): after the prompt's last character
    return logits.float().cpu().numpy(), numpy_state(state)


def stream(
    model,
    vocab: Vocab,
    *,
    prompt: str = "\n",
    length: int | None = 500,
    temperature: float = 0.8,
    top_k: int | None = None,
    top_p: float | None = None,
    seed: int = 0,
) -> Iterator[Token]:
    """Characters generated after ``prompt``, one at a time (``length=None``: endless)."""
    sampler = Sampler(model, vocab, prompt=prompt, temperature=temperature, top_k=top_k, top_p=top_p, seed=seed)
    return sampler.tokens(length)


def generate(
    model,
    vocab: Vocab,
    *,
    prompt: str = "\n",
    length: int = 200,
    temperature: float = 0.8,
    top_k: int | None = None,
    top_p: float | None = None,
    seed: int = 0,
    num_samples: int = 1,
) -> list[str]:
    """``num_samples`` finished texts (the batch mode: all streams advance together)."""
    sampler = Sampler(
        model, vocab, prompt=prompt, temperature=temperature, top_k=top_k, top_p=top_p, seed=seed, num_samples=num_samples
    )
    columns: list[list[str]] = [[] for _ in range(num_samples)]
    for n, step in enumerate(sampler.steps()):
        if n >= length:
            break
        for col, tok in zip(columns, step):
            col.append(tok.char)
    return ["".join(col) for col in columns]
