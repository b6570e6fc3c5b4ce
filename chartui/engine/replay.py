"""The trained weights replayed one character at a time, with every gate in view.

Training uses torch's fused recurrent modules; they return hidden states but hide the gates.
This module re-runs the same arithmetic step by step in numpy (float32), which is both the
gate view (``trace``) and the fastest way to generate one character after another on a CPU
(``step``: no autograd, no per-call framework overhead). tests/engine/test_replay.py proves
the replayed hidden states equal the fused module's output.

Gate layouts follow torch: LSTM rows are (input, forget, candidate, output); GRU rows are
(reset, update, candidate). Torch's GRU keeps ``b_hn`` inside the reset product:
``n = tanh(W_in x + b_in + r * (W_hn h + b_hn))``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

GATES = {
    "lstm": ("input", "forget", "candidate", "output", "cell", "hidden"),
    "gru": ("reset", "update", "candidate", "hidden"),
    "rnn": ("hidden",),
}
# The value range of each gate, for colour scales: sigmoid gates in [0, 1], tanh in [-1, 1].
GATE_RANGE = {
    "input": (0.0, 1.0), "forget": (0.0, 1.0), "output": (0.0, 1.0), "reset": (0.0, 1.0), "update": (0.0, 1.0),
    "candidate": (-1.0, 1.0), "hidden": (-1.0, 1.0), "cell": (None, None),
}


def _sigmoid(x: np.ndarray) -> np.ndarray:
    # 0.5 * (1 + tanh(x / 2)) equals the logistic function and never overflows.
    return 0.5 * (1.0 + np.tanh(0.5 * x))


@dataclass
class _Layer:
    w_ih_t: np.ndarray  # (In, G*H)
    w_hh_t: np.ndarray  # (H, G*H)
    b_ih: np.ndarray  # (G*H,)
    b_hh: np.ndarray  # (G*H,)


def numpy_state(arch: str, state) -> list:
    """A fused module's state, (L, B, H) tensors, as the replay's per-layer numpy arrays."""
    if arch == "lstm":
        h, c = (s.detach().float().cpu().numpy() for s in state)
        return [(h[i].copy(), c[i].copy()) for i in range(h.shape[0])]
    h = state.detach().float().cpu().numpy()
    return [h[i].copy() for i in range(h.shape[0])]


class Replay:
    """numpy copies of a CharModel's weights, stepped one character at a time."""

    def __init__(self, model) -> None:
        cfg = model.config
        self.arch: str = cfg.arch
        self.layers: int = cfg.layers
        self.hidden: int = cfg.hidden
        sd = {k: v.detach().float().cpu().numpy() for k, v in model.state_dict().items()}
        self.embedding = sd["embedding.weight"]  # (V, E)
        self._layers = [
            _Layer(
                w_ih_t=np.ascontiguousarray(sd[f"rnn.weight_ih_l{i}"].T),
                w_hh_t=np.ascontiguousarray(sd[f"rnn.weight_hh_l{i}"].T),
                b_ih=sd[f"rnn.bias_ih_l{i}"],
                b_hh=sd[f"rnn.bias_hh_l{i}"],
            )
            for i in range(cfg.layers)
        ]
        self.head_w_t = np.ascontiguousarray(sd["head.weight"].T)  # (H, V)
        self.head_b = sd["head.bias"]  # (V,)
        first = self._layers[0]
        # Layer 0's input projection depends only on the character: precompute it per
        # character, (V, G*H), so a step starts with a row lookup instead of a matmul.
        self._input_table = self.embedding @ first.w_ih_t + first.b_ih
        # For LSTM and RNN both biases simply add; GRU keeps b_hn apart (see module doc).
        if self.arch != "gru":
            self._input_table += first.b_hh
        self._fast = self._fast_layers()

    def _fast_layers(self) -> list[_Layer]:
        """The weights again, laid out for ``step``: the columns of the sigmoid gates are
        halved, since sigmoid(x) = 0.5 + 0.5 * tanh(x / 2), so one tanh over all gates serves
        every gate of a step. Layer 0's input projection is folded into a per-character table."""
        H = self.hidden
        scale = {"lstm": np.r_[np.full(2 * H, 0.5), np.ones(H), np.full(H, 0.5)],  # i, f (sigmoid), g (tanh), o (sigmoid)
                 "gru": np.r_[np.full(2 * H, 0.5), np.ones(H)],  # r, z (sigmoid), n (tanh)
                 "rnn": np.ones(H)}[self.arch].astype(np.float32)
        fast = []
        for i, lay in enumerate(self._layers):
            b_ih = lay.b_ih if self.arch == "gru" else lay.b_ih + lay.b_hh
            if self.arch == "gru":  # the reset gate multiplies W_hn h + b_hn, so n's recurrent half is left unscaled
                w_hh_t, b_hh = lay.w_hh_t * scale, lay.b_hh * scale
            else:
                w_hh_t, b_hh = lay.w_hh_t * scale, np.zeros_like(lay.b_hh)
            table = (self._input_table * scale) if i == 0 else None
            fast.append(_Layer(w_ih_t=table if table is not None else lay.w_ih_t * scale, w_hh_t=np.ascontiguousarray(w_hh_t),
                               b_ih=b_ih * scale, b_hh=b_hh))
        return fast

    # --- state ---------------------------------------------------------------------------

    def zero_state(self, batch: int = 1) -> list:
        """Per layer: (h, c) for an LSTM, h otherwise; each (B, H)."""
        z = lambda: np.zeros((batch, self.hidden), dtype=np.float32)  # noqa: E731
        return [(z(), z()) if self.arch == "lstm" else z() for _ in range(self.layers)]

    def state_from_torch(self, state) -> list:
        """Convert a fused module's state ((L, B, H) tensors) into the replay's layout."""
        return numpy_state(self.arch, state)

    # --- stepping ------------------------------------------------------------------------

    def _proj(self, layer: int, x_or_ids: np.ndarray) -> np.ndarray:
        if layer == 0:
            return self._input_table[x_or_ids]  # (B, G*H)
        lay = self._layers[layer]
        proj = x_or_ids @ lay.w_ih_t + lay.b_ih
        if self.arch != "gru":
            proj += lay.b_hh
        return proj

    def step(self, ids: np.ndarray, state: list) -> tuple[np.ndarray, list]:
        """Logits (B, V) for the character after ``ids`` (B,), and the new state.

        The hot loop of generation: a handful of numpy calls per layer on the rearranged
        weights of ``_fast_layers`` (tests/engine/test_replay.py checks it against ``trace``)."""
        H = self.hidden
        new_state = []
        x = None
        for layer, lay in enumerate(self._fast):
            gx = lay.w_ih_t[ids] if layer == 0 else x @ lay.w_ih_t + lay.b_ih  # (B, G*H), sigmoid columns halved
            if self.arch == "lstm":
                h, c = state[layer]
                t = np.tanh(gx + h @ lay.w_hh_t)  # (B, 4H): tanh(x/2) for i, f, o; tanh(x) for g
                s = 0.5 * t + 0.5
                c = s[:, H : 2 * H] * c + s[:, :H] * t[:, 2 * H : 3 * H]
                h = s[:, 3 * H :] * np.tanh(c)
                new_state.append((h, c))
            elif self.arch == "gru":
                h = state[layer]
                gh = h @ lay.w_hh_t + lay.b_hh  # (B, 3H): r, z halved; n as is
                s = 0.5 * np.tanh(gx[:, : 2 * H] + gh[:, : 2 * H]) + 0.5
                n = np.tanh(gx[:, 2 * H :] + s[:, :H] * gh[:, 2 * H :])
                h = n + s[:, H:] * (h - n)
                new_state.append(h)
            else:
                h = np.tanh(gx + state[layer] @ lay.w_hh_t)
                new_state.append(h)
            x = h
        logits = x @ self.head_w_t + self.head_b  # (B, V)
        return logits, new_state

    def trace(self, ids: np.ndarray, *, state: list | None = None) -> tuple[list[dict[str, np.ndarray]], np.ndarray]:
        """Every gate of every layer at every character of ``ids`` (T,), and the logits.

        Returns (per layer: gate name -> (T, H) float32, logits (T, V)), where logits[t] is the
        model's guess for the character after ids[t].
        """
        T, H = len(ids), self.hidden
        names = GATES[self.arch]
        out = [{name: np.empty((T, H), dtype=np.float32) for name in names} for _ in range(self.layers)]
        top = np.empty((T, H), dtype=np.float32)
        state = state if state is not None else self.zero_state(1)
        layer_in = self._input_table[ids]  # (T, G*H): layer 0's input projection for every step
        for layer in range(self.layers):
            lay, rec = self._layers[layer], out[layer]
            if layer > 0:
                layer_in = self._proj(layer, top)  # the layer below's hidden states, (T, G*H)
            if self.arch == "lstm":
                h, c = state[layer][0][0], state[layer][1][0]
                for t in range(T):
                    g = layer_in[t] + h @ lay.w_hh_t
                    i, f = _sigmoid(g[:H]), _sigmoid(g[H : 2 * H])
                    cand, o = np.tanh(g[2 * H : 3 * H]), _sigmoid(g[3 * H :])
                    c = f * c + i * cand
                    h = o * np.tanh(c)
                    rec["input"][t], rec["forget"][t], rec["candidate"][t], rec["output"][t] = i, f, cand, o
                    rec["cell"][t], rec["hidden"][t] = c, h
            elif self.arch == "gru":
                h = state[layer][0]
                for t in range(T):
                    gh = h @ lay.w_hh_t + lay.b_hh
                    gx = layer_in[t]
                    r = _sigmoid(gx[:H] + gh[:H])
                    z = _sigmoid(gx[H : 2 * H] + gh[H : 2 * H])
                    n = np.tanh(gx[2 * H :] + r * gh[2 * H :])
                    h = (1.0 - z) * n + z * h
                    rec["reset"][t], rec["update"][t], rec["candidate"][t], rec["hidden"][t] = r, z, n, h
            else:
                h = state[layer][0]
                for t in range(T):
                    h = np.tanh(layer_in[t] + h @ lay.w_hh_t)
                    rec["hidden"][t] = h
            top = rec["hidden"]
        logits = top @ self.head_w_t + self.head_b  # (T, V)
        return out, logits
