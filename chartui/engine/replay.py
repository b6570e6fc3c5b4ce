"""The trained weights replayed one character at a time, with every gate in view.

Training uses torch's fused recurrent modules; they return hidden states but hide the gates.
This module re-runs the same arithmetic step by step in numpy (float32), through each cell's
``numpy_layer`` (chartui.engine.cells). That is both the gate view (``trace``) and the fastest
way to generate one character after another on a CPU (``step``: no autograd, no per-call
framework overhead). tests/engine/test_replay.py proves the replay equals the fused module.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from chartui.config import ModelConfig
from chartui.engine import cells

# Per layer, the cell's carried arrays, each (B, H).
ReplayState = list[cells.LayerState]


def numpy_state(state) -> ReplayState:
    """A model's carried state (a tuple of (L, B, H) tensors) as the replay's per-layer arrays."""
    arrays = [s.detach().float().cpu().numpy() for s in state]
    return [tuple(a[layer].copy() for a in arrays) for layer in range(arrays[0].shape[0])]


class Replay:
    """numpy copies of a CharModel's weights, stepped one character at a time.

    Built from a CharModel, or (``from_arrays``) straight from a checkpoint's arrays, which
    is how ``chartui sample`` and ``gates`` run without importing torch.
    """

    def __init__(self, model) -> None:
        arrays = {k: v.detach().float().cpu().numpy() for k, v in model.state_dict().items()}
        self._build(model.config, arrays)

    @classmethod
    def from_arrays(cls, config: ModelConfig, arrays: Mapping[str, np.ndarray]) -> Replay:
        """The replay of a model's state_dict given as float32 numpy arrays (already checked)."""
        replay = cls.__new__(cls)
        replay._build(config, arrays)
        return replay

    def _build(self, config: ModelConfig, arrays: Mapping[str, np.ndarray]) -> None:
        self.config = config
        self.cell: cells.CellSpec = cells.get(config.arch)
        self.arch: str = config.arch
        self.hidden: int = config.hidden
        rnn = {k.removeprefix("rnn."): v for k, v in arrays.items() if k.startswith("rnn.")}
        self._layers = [self.cell.numpy_layer(rnn, i) for i in range(config.layers)]
        # Layer 0's input depends only on the character: project every character once, (V, P),
        # so a step starts with a row lookup instead of a matrix product.
        self._table = self._layers[0].project(arrays["embedding.weight"])  # (V, E) -> (V, P)
        self.head_w_t = np.ascontiguousarray(arrays["head.weight"].T)  # (H, V)
        self.head_b = arrays["head.bias"]  # (V,)

    @property
    def vocab_size(self) -> int:
        return len(self.head_b)

    @property
    def layers(self) -> int:
        return len(self._layers)

    def zero_state(self, batch: int = 1) -> ReplayState:
        """Per layer, one (B, H) zero array per state tensor of the cell."""
        return [tuple(np.zeros((batch, self.hidden), dtype=np.float32) for _ in self.cell.state) for _ in self._layers]

    def step(self, ids: np.ndarray, state: ReplayState) -> tuple[np.ndarray, ReplayState]:
        """Logits (B, V) for the character after ``ids`` (B,), and the new state."""
        new_state = []
        gx = self._table[ids]  # (B, P): layer 0's projection, looked up
        x: np.ndarray = gx
        for i, layer in enumerate(self._layers):
            if i > 0:
                gx = layer.project(x)  # the layer below's output, (B, P)
            layer_state = layer.step(gx, state[i])
            new_state.append(layer_state)
            x = layer_state[0]  # (B, H)
        logits = x @ self.head_w_t + self.head_b  # (B, V)
        return logits, new_state

    def trace(self, ids: np.ndarray, *, state: ReplayState | None = None) -> tuple[list[dict[str, np.ndarray]], np.ndarray]:
        """Every gate of every layer at every character of ``ids`` (T,), and the logits.

        Returns (per layer: gate name -> (T, H) float32, logits (T, V)), where logits[t] is the
        model's guess for the character after ids[t].
        """
        state = state if state is not None else self.zero_state(1)
        out: list[dict[str, np.ndarray]] = []
        gx = self._table[ids]  # (T, P): layer 0's projection at every step
        for i, layer in enumerate(self._layers):
            if i > 0:
                gx = layer.project(out[-1]["hidden"])  # the layer below's outputs, (T, P)
            out.append(layer.trace(gx, state[i]))
        logits = out[-1]["hidden"] @ self.head_w_t + self.head_b  # (T, V)
        return out, logits

    def read(self, ids: np.ndarray, batch: int = 1, state: ReplayState | None = None) -> tuple[np.ndarray, ReplayState]:
        """Read ``ids`` (T >= 1) in one stream; the logits after the last character, repeated
        for ``batch`` streams (B, V), and the state after it, (B, H) per array."""
        state = state if state is not None else self.zero_state(1)
        logits = np.empty(0, dtype=np.float32)
        for i in ids:
            logits, state = self.step(np.array([i]), state)
        repeat = [tuple(np.repeat(a, batch, axis=0) for a in layer) for layer in state]
        return np.repeat(logits, batch, axis=0), repeat
