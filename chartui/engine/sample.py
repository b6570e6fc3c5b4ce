"""Streaming generation: an iterator of characters, each with the probability the model gave it.

The prompt is read once by the fused module (fast for long prompts); then each new
character is one replayed step (chartui.engine.replay) from the carried state, never
re-feeding the text. No autograd. Temperature, top-k and top-p are attributes of the
Sampler and may change between characters (the TUI's ``+``/``-`` keys do exactly that).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from chartui.config import BEAM_LENGTH_PENALTY, check_sampling
from chartui.engine.corpus import Vocab, describe_chars
from chartui.engine.replay import Replay
from chartui.errors import ConfigError

# Temperatures below this are greedy: the argmax, without dividing the logits by ~0.
GREEDY_BELOW = 1e-6


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
    ``model`` is a CharModel or its numpy Replay (chartui.engine.runs.open_replay: no torch).
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
        _check_fits(model, vocab, prompt, num_samples)
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
        self.replay = replay or (model if isinstance(model, Replay) else Replay(model))
        self.logits, self.state = self.replay.read(vocab.encode(primer(prompt, vocab)), num_samples)

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
        if self.temperature < GREEDY_BELOW:  # so cold that sampling is the argmax (and 1/T would overflow)
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


@dataclass(frozen=True)
class Beam:
    """One finished hypothesis of a beam search."""

    text: str
    """The generated characters (the prompt not included)."""
    probs: tuple[float, ...]
    """The model's probability for each character, as ``Token.prob``."""
    logprob: float
    """Sum of the characters' log-probabilities (nats)."""
    score: float
    """``logprob`` divided by the length penalty: what the search ranks by."""


def length_penalty(length: int, alpha: float) -> float:
    """GNMT's length normaliser ((5 + length) / 6) ** alpha: 0 ranks by total log-probability
    (short texts win), larger values favour longer texts."""
    return ((5 + length) / 6) ** alpha


def beam_search(
    model,
    vocab: Vocab,
    *,
    prompt: str = "\n",
    length: int = 200,
    beams: int = 4,
    alpha: float = BEAM_LENGTH_PENALTY,
    stop: str = "",
) -> list[Beam]:
    """The ``beams`` most likely continuations of ``prompt`` under the model, best first.

    Deterministic: no randomness, ties broken by beam then character order. Each step keeps
    the ``beams`` best (hypothesis, next character) pairs by total log-probability. A
    hypothesis ends at ``length`` characters or when its text ends with ``stop`` (if given);
    finished ones are ranked by ``score`` (log-probability over ``length_penalty``), which is
    where ``alpha`` matters: with ``stop``, texts of different lengths compete.
    """
    if not isinstance(beams, int) or isinstance(beams, bool) or not 1 <= beams <= 256:
        raise ConfigError(f"--beam must be a whole number from 1 to 256 (got {beams!r})")
    if not isinstance(length, int) or isinstance(length, bool) or length < 1:
        raise ConfigError(f"--length must be a whole number of at least 1 (got {length!r})")
    if not (isinstance(alpha, int | float) and math.isfinite(alpha) and 0 <= alpha <= 10):
        raise ConfigError(f"--length-penalty must be between 0 and 10 (got {alpha!r})")
    for text, what in ((prompt, "prompt"), (stop, "stop text")):
        unknown = vocab.unknown(text)
        if unknown:
            raise ConfigError(f"the {what} has characters this model never saw: {describe_chars(unknown)}; remove them")
    replay = model if isinstance(model, Replay) else Replay(model)
    logits, state = replay.read(vocab.encode(primer(prompt, vocab)), 1)
    chars = vocab.chars
    texts: list[str] = [""]
    probs: list[tuple[float, ...]] = [()]
    scores = np.zeros(1)
    done: list[Beam] = []
    for step in range(length):
        z = logits.astype(np.float64) - logits.max(axis=-1, keepdims=True)
        logp = z - np.log(np.exp(z).sum(axis=-1, keepdims=True))  # (B, V)
        total = (scores[:, None] + logp).ravel()  # (B * V,)
        # The best pairs, in a stable order: argsort of -total keeps index order among ties.
        best = np.argsort(-total, kind="stable")[:beams]
        parent, char = np.divmod(best, logp.shape[1])
        texts = [texts[p] + chars[c] for p, c in zip(parent, char)]
        probs = [(*probs[p], float(np.exp(logp[p, c]))) for p, c in zip(parent, char)]
        scores = total[best]
        state = [tuple(a[parent] for a in layer) for layer in state]
        ended = [(bool(stop) and t.endswith(stop)) or step + 1 == length for t in texts]
        for i in np.flatnonzero(ended):
            n = len(texts[i])
            done.append(Beam(texts[i], probs[i], float(scores[i]), float(scores[i]) / length_penalty(n, alpha)))
        alive = np.flatnonzero(~np.array(ended))
        if len(alive) == 0 or len(done) >= beams:
            break
        texts, probs, scores = [texts[i] for i in alive], [probs[i] for i in alive], scores[alive]
        state = [tuple(a[alive] for a in layer) for layer in state]
        logits, state = replay.step(char[alive], state)
    return sorted(done, key=lambda b: -b.score)[:beams]


def primer(prompt: str, vocab: Vocab) -> str:
    """What generation starts from: the prompt, or for an empty one a newline (the start of a
    speech), or the first character the model knows where it never saw a newline."""
    return prompt or ("\n" if "\n" in vocab else vocab.chars[0])


def readable_prompt(prompt: str, vocab: Vocab) -> tuple[str, str]:
    """``prompt`` if the model can read it, else a fallback it can (``primer("")``), and the
    characters that were missing ("" if none)."""
    unknown = vocab.unknown(prompt)
    if not unknown:
        return prompt, ""
    return primer("", vocab), describe_chars(unknown)


def _check_fits(model, vocab: Vocab, prompt: str, streams: int) -> None:
    """Refuse, before allocating anything, a number of streams this machine cannot hold."""
    from chartui.engine.device import available_memory

    cfg = model.config
    # Per stream, in bytes: the gates and carried state of every layer (float32), and the
    # logits and probabilities of each step (float64). The prompt is read once, in one stream.
    per_stream = 4 * 8 * cfg.hidden * cfg.layers + 8 * 6 * vocab.size
    need, have = streams * per_stream, available_memory()
    if have and need > have // 2:
        most = max(1, have // 2 // per_stream)
        raise ConfigError(
            f"{streams:,} samples at once need about {need / 2**30:,.1f} GiB and this machine has "
            f"{have / 2**30:.1f} GiB free; ask for at most {most:,} (--num-samples)"
        )


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
