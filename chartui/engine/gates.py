"""Gate traces for any text, and a ranking of the units worth looking at.

``trace`` replays a trained model over a passage (chartui.engine.replay) and keeps, per
character and layer, every gate (LSTM input/forget/candidate/output plus cell and hidden;
GRU reset/update/candidate/hidden; RNN hidden) and the model's next-character
distribution. ``rank_units`` scores each unit by how strongly it tracks simple properties
of the text (inside quotes, newline, word boundary, position in the line, ...) and by its
variance, so a user finds the interpretable cells without scanning hundreds of units.
No rendering here.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from chartui.engine import cells
from chartui.engine.corpus import Vocab, describe_chars
from chartui.engine.replay import Replay
from chartui.engine.sample import softmax
from chartui.errors import ConfigError

# The longest passage traced at once: 20,000 characters of a 512-wide LSTM layer already
# hold ~250 MB of gate values.
MAX_CHARS = 20_000


@dataclass
class GateTrace:
    """Gate values of one passage: ``layers[l][gate]`` is (T, H); ``probs`` is (T, V)."""

    text: str
    arch: str
    layers: list[dict[str, np.ndarray]]
    probs: np.ndarray
    """probs[t] is the model's distribution for the character after text[t]."""
    vocab: Vocab

    @property
    def cell(self) -> cells.CellSpec:
        return cells.get(self.arch)

    @property
    def gate_names(self) -> tuple[str, ...]:
        return self.cell.gates

    @property
    def default_gate(self) -> str:
        """The gate shown first, the same in ``chartui gates`` and the Gates tab."""
        return self.cell.default_gate

    @property
    def hidden(self) -> int:
        return self.layers[0]["hidden"].shape[1]

    def values(self, layer: int, gate: str) -> np.ndarray:
        """(T, H) activations of ``gate`` in ``layer``; checks both."""
        if not 0 <= layer < len(self.layers):
            raise ConfigError(f"--layer must be between 0 and {len(self.layers) - 1} for this model (got {layer})")
        if gate not in self.layers[layer]:
            raise ConfigError(f"--gate {gate!r} does not exist in a {self.arch}; choose one of {', '.join(self.gate_names)}")
        return self.layers[layer][gate]

    def value_range(self, layer: int, gate: str, unit: int | None = None) -> tuple[float, float]:
        """The colour scale for a gate: its natural range; for the (unbounded) cell state, the
        largest magnitude seen, in ``unit`` when one is given, else in any unit."""
        self.values(layer, gate)  # checks both
        lo, hi = self.cell.gate_ranges[gate]
        if lo is None or hi is None:
            values = self.values(layer, gate)
            m = float(np.abs(values if unit is None else values[:, unit]).max()) or 1.0
            return (-m, m)
        return (lo, hi)

    def top_next(self, t: int, k: int = 5) -> list[tuple[str, float]]:
        """The model's k most likely next characters after text[t], with probabilities."""
        p = self.probs[t]
        order = np.argsort(-p, kind="stable")[:k]
        return [(self.vocab.chars[i], float(p[i])) for i in order]

    def to_dict(self, layer: int, gate: str | None = None) -> dict:
        """JSON-ready arrays for one layer (every gate, or one)."""
        names = [gate] if gate else list(self.gate_names)
        return {
            "text": self.text,
            "arch": self.arch,
            "layer": layer,
            "layers": len(self.layers),
            "hidden": self.hidden,
            "gates": {name: self.values(layer, name).round(5).tolist() for name in names},
        }

    def export(self, layer: int, gate: str, unit: int, ranking: list[UnitScore]) -> dict:
        """What ``chartui gates --json`` prints and the Gates tab's export writes: the layer's
        arrays, the unit shown with its colour range, the ranking, and the top next characters."""
        return {
            **self.to_dict(layer),
            "gate": gate,
            "unit": unit,
            "range": list(self.value_range(layer, gate, unit)),
            "ranking": [r.to_dict() for r in ranking],
            "next": [[[c, round(p, 5)] for c, p in self.top_next(t)] for t in range(len(self.text))],
        }


def trace(model, vocab: Vocab, text: str, *, max_chars: int = MAX_CHARS) -> GateTrace:
    """Trace every gate of every layer over ``text`` (from a zero state); ``model`` is a
    CharModel or its Replay."""
    if not text:
        raise ConfigError("the text to trace is empty; give --text with a passage")
    if len(text) > max_chars:
        raise ConfigError(
            f"the text is {len(text):,} characters; the gate view traces at most {max_chars:,} at once, give a shorter passage"
        )
    unknown = vocab.unknown(text)
    if unknown:
        raise ConfigError(f"the text has characters this model never saw: {describe_chars(unknown)}; remove them")
    replay = model if isinstance(model, Replay) else Replay(model)
    layers, logits = replay.trace(vocab.encode(text))
    return GateTrace(text=text, arch=replay.arch, layers=layers, probs=softmax(logits).astype(np.float32), vocab=vocab)


# --- ranking ------------------------------------------------------------------------------


def text_features(text: str) -> dict[str, np.ndarray]:
    """Per-character indicators a unit might track, each (T,) float: what the reader knows
    after reading text[t]."""
    T = len(text)
    feats = {
        name: np.zeros(T, dtype=np.float64)
        for name in (
            "inside quotes",
            "inside parentheses",
            "newline",
            "word boundary",
            "position in line",
            "uppercase",
            "vowel",
            "punctuation",
            "speaker line",
        )
    }
    in_quote = False
    depth = 0
    col = 0
    line_upper = True  # no lowercase seen yet on this line (speaker names are all caps)
    for t, ch in enumerate(text):
        if ch == '"':
            in_quote = not in_quote
        elif ch == "(":
            depth += 1
        elif ch == ")":
            depth = max(0, depth - 1)
        if ch == "\n":
            col = 0
            line_upper = True
        else:
            col += 1
            if ch.islower():
                line_upper = False
        feats["inside quotes"][t] = in_quote
        feats["inside parentheses"][t] = depth > 0
        feats["newline"][t] = ch == "\n"
        feats["word boundary"][t] = not ch.isalnum() and ch != "'"
        feats["position in line"][t] = col
        feats["uppercase"][t] = ch.isupper()
        feats["vowel"][t] = ch.lower() in "aeiou"
        feats["punctuation"][t] = ch in ".,;:!?-"
        feats["speaker line"][t] = line_upper and ch != "\n" and col > 0
    return feats


@dataclass(frozen=True)
class UnitScore:
    """Why a unit is interesting: its strongest correlation with a text feature, and its spread."""

    unit: int
    score: float
    feature: str
    correlation: float
    variance: float

    def to_dict(self) -> dict:
        return {
            "unit": self.unit,
            "score": self.score,
            "feature": self.feature,
            "correlation": self.correlation,
            "variance": self.variance,
        }


def rank_units(tr: GateTrace, *, layer: int = 0, gate: str = "hidden", top: int = 10) -> list[UnitScore]:
    """Units of ``gate`` in ``layer`` ordered by |correlation| with a text feature.

    A unit that tracks nothing in particular but swings widely still ranks by variance
    (its score is then the variance scaled into [0, 1) so correlations come first).
    """
    acts = tr.values(layer, gate).astype(np.float64)  # (T, H)
    T, H = acts.shape
    var = acts.var(axis=0)  # (H,)
    best_corr = np.zeros(H)
    best_feat = np.full(H, "", dtype=object)
    if T >= 3:
        centered = acts - acts.mean(axis=0)
        norms = np.sqrt((centered**2).sum(axis=0))  # (H,)
        for name, f in text_features(tr.text).items():
            fc = f - f.mean()
            fn = np.sqrt((fc**2).sum())
            if fn == 0:
                continue  # the feature never changes in this text
            with np.errstate(invalid="ignore", divide="ignore"):
                corr = (fc @ centered) / (fn * norms)  # (H,)
            corr = np.nan_to_num(corr)
            better = np.abs(corr) > np.abs(best_corr)
            best_corr = np.where(better, corr, best_corr)
            best_feat = np.where(better, name, best_feat)
    spread = var / (var.max() + 1e-12) * 0.2
    score = np.where(np.abs(best_corr) >= 0.2, np.abs(best_corr), spread)
    order = np.argsort(-score, kind="stable")[:top]
    return [
        UnitScore(
            unit=int(u),
            score=float(score[u]),
            feature=str(best_feat[u]) if abs(best_corr[u]) >= 0.2 else "variance",
            correlation=float(best_corr[u]),
            variance=float(var[u]),
        )
        for u in order
    ]
