"""The recurrent cells chartui knows, one ``CellSpec`` each: the registry.

A cell is everything the engine needs to train, sample, evaluate and trace one architecture:

- its gate names (what the gate view shows per character) and their value ranges;
- the names of the tensors it carries from one character to the next (``h``, or ``h`` and ``c``);
- the torch module that trains it (torch's fused RNN/LSTM/GRU for the built-in cells);
- the parameter count of one layer, so the forms and ``chartui presets`` need no torch;
- a numpy layer that replays the trained weights one character at a time (sampling) and over
  a passage with every gate recorded (the gate view).

Adding a cell is one ``register(CellSpec(...))``: nothing else in the engine branches on the
architecture. tests/engine/test_cells.py registers a cell of its own to prove it.

torch is imported only inside the module factories, so reading the registry (the CLI's
``--arch`` choices, parameter counts) stays cheap.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from chartui.errors import ConfigError

if TYPE_CHECKING:
    from torch import nn

# A layer's carried state in the replay: one (B, H) array per state name, in spec order.
LayerState = tuple[np.ndarray, ...]


class NumpyLayer(Protocol):
    """One recurrent layer's trained weights, in numpy, stepped without autograd.

    The input reaches a layer only through ``project`` (a linear map), so the replay can
    precompute layer 0's projection for every character of the vocabulary once.
    """

    def project(self, x: np.ndarray) -> np.ndarray:
        """(N, In) inputs -> (N, P) projections; linear in x plus a bias."""
        ...

    def step(self, gx: np.ndarray, state: LayerState) -> LayerState:
        """One character for B streams: (B, P) projections -> the new state; ``state[0]`` is h."""
        ...

    def trace(self, gx: np.ndarray, state: LayerState) -> dict[str, np.ndarray]:
        """Every gate at every step of (T, P) projections for one stream, each (T, H)."""
        ...


@dataclass(frozen=True)
class CellSpec:
    """One architecture, as the engine uses it."""

    name: str
    """What ``--arch`` takes."""
    gates: tuple[str, ...]
    """What the gate view records per character and layer; ``hidden`` is the layer's output."""
    state: tuple[str, ...]
    """Tensors carried between characters, each (layers, B, H); ``h`` (the output) first."""
    gate_ranges: Mapping[str, tuple[float | None, float | None]]
    """Each gate's value range for colour scales; (None, None) for unbounded values."""
    default_gate: str
    """The gate ``chartui gates`` and the Gates tab show first."""
    module: Callable[[int, int, int, float], nn.Module]
    """(input size, hidden, layers, dropout between layers) -> a batch-first torch module whose
    ``forward(x, state)`` takes and returns the state as a tuple in ``state`` order."""
    layer_params: Callable[[int, int], int]
    """(input size, hidden) -> parameters in one layer of ``module``."""
    numpy_layer: Callable[[Mapping[str, np.ndarray], int], NumpyLayer]
    """(the module's state_dict as float32 numpy arrays, layer index) -> the replay of that layer."""
    description: str = ""
    recurrent_weights: Callable[[int], tuple[str, ...]] = lambda layers: tuple(f"weight_hh_l{k}" for k in range(layers))
    """(layers) -> the names of the module's hidden-to-hidden matrices, where weight drop applies."""
    weight_shapes: Callable[[int, int, int], dict[str, tuple[int, ...]]] | None = None
    """(input size, hidden, layers) -> every tensor of ``module`` and its shape. With it, a
    checkpoint is checked and replayed without importing torch (``chartui sample``, ``gates``);
    a cell without it is loaded through torch."""

    def __post_init__(self) -> None:
        if "hidden" not in self.gates or self.default_gate not in self.gates or not self.state or self.state[0] != "h":
            raise ValueError(f"cell {self.name!r}: gates must include 'hidden' and the default gate; state must start with 'h'")
        missing = [g for g in self.gates if g not in self.gate_ranges]
        if missing:
            raise ValueError(f"cell {self.name!r}: gate_ranges has no range for {', '.join(missing)}")


_REGISTRY: dict[str, CellSpec] = {}


def register(spec: CellSpec) -> CellSpec:
    """Add (or replace) a cell; returns it, so a module can register at import."""
    _REGISTRY[spec.name] = spec
    return spec


def unregister(name: str) -> None:
    """Remove a cell (a test's own, when it is done with it)."""
    _REGISTRY.pop(name, None)


def get(name: str) -> CellSpec:
    """The cell called ``name``; a ConfigError naming the choices otherwise."""
    try:
        return _REGISTRY[name]
    except (KeyError, TypeError):
        raise ConfigError(f"unknown architecture {name!r}; choose one of {', '.join(names())}") from None


def names() -> tuple[str, ...]:
    """Registered cell names, in registration order (rnn, lstm, gru first)."""
    return tuple(_REGISTRY)


def torch_weight_shapes(gates: int) -> Callable[[int, int, int], dict[str, tuple[int, ...]]]:
    """The tensors of torch's fused cells with G gate blocks: per layer k, ``weight_ih_lk``
    (G*H, In), ``weight_hh_lk`` (G*H, H) and two biases (G*H,); layers above 0 read H inputs."""

    def shapes(inputs: int, hidden: int, layers: int) -> dict[str, tuple[int, ...]]:
        out: dict[str, tuple[int, ...]] = {}
        for k in range(layers):
            rows, cols = gates * hidden, inputs if k == 0 else hidden
            out |= {f"weight_ih_l{k}": (rows, cols), f"weight_hh_l{k}": (rows, hidden)}
            out |= {f"bias_ih_l{k}": (rows,), f"bias_hh_l{k}": (rows,)}
        return out

    return shapes


def torch_layer_params(gates: int) -> Callable[[int, int], int]:
    """Parameters of one layer of torch's fused cells: G gate blocks of H units, each with an
    input matrix, a recurrent matrix and two biases."""
    return lambda inputs, hidden: gates * hidden * (inputs + hidden + 2)


# --- the built-in cells: torch's fused modules, replayed in numpy ------------------------------
#
# Gate layouts follow torch: LSTM rows are (input, forget, candidate, output); GRU rows are
# (reset, update, candidate). Every replay uses sigmoid(x) = 0.5 + 0.5 * tanh(x / 2): the
# columns of sigmoid gates are halved once when the weights are prepared, so one tanh over all
# gates serves a whole step (the hot loop of generation).


def _torch_weights(sd: Mapping[str, np.ndarray], layer: int) -> tuple[np.ndarray, ...]:
    """(W_ih^T (In, G*H), W_hh^T (H, G*H), b_ih, b_hh) of one layer of a fused torch module."""
    return (
        np.ascontiguousarray(sd[f"weight_ih_l{layer}"].T),
        np.ascontiguousarray(sd[f"weight_hh_l{layer}"].T),
        sd[f"bias_ih_l{layer}"],
        sd[f"bias_hh_l{layer}"],
    )


def _half(hidden: int, sigmoid: int, tanh: int, after: int = 0) -> np.ndarray:
    """Per-column scale: 0.5 for ``sigmoid`` blocks, 1 for ``tanh`` blocks, then ``after`` sigmoid blocks."""
    return np.r_[np.full(sigmoid * hidden, 0.5), np.ones(tanh * hidden), np.full(after * hidden, 0.5)].astype(np.float32)


class _LSTMLayer:
    def __init__(self, sd: Mapping[str, np.ndarray], layer: int) -> None:
        w_ih, w_hh, b_ih, b_hh = _torch_weights(sd, layer)
        self.H = w_hh.shape[0]
        scale = _half(self.H, 2, 1, 1)  # i, f (sigmoid), g (tanh), o (sigmoid)
        self.w_ih, self.w_hh, self.b = w_ih * scale, np.ascontiguousarray(w_hh * scale), (b_ih + b_hh) * scale

    def project(self, x: np.ndarray) -> np.ndarray:
        return x @ self.w_ih + self.b  # (N, 4H)

    def _gates(self, gx: np.ndarray, h: np.ndarray) -> tuple[np.ndarray, ...]:
        H = self.H
        t = np.tanh(gx + h @ self.w_hh)  # (B, 4H): tanh(x/2) for i, f, o; tanh(x) for g
        s = 0.5 * t + 0.5
        return s[..., :H], s[..., H : 2 * H], t[..., 2 * H : 3 * H], s[..., 3 * H :]

    def step(self, gx: np.ndarray, state: LayerState) -> LayerState:
        h, c = state
        i, f, g, o = self._gates(gx, h)
        c = f * c + i * g
        return o * np.tanh(c), c

    def trace(self, gx: np.ndarray, state: LayerState) -> dict[str, np.ndarray]:
        T = len(gx)
        rec = {name: np.empty((T, self.H), dtype=np.float32) for name in LSTM.gates}
        h, c = (s.reshape(-1) for s in state)  # one stream: (H,) each
        for t in range(T):
            i, f, g, o = self._gates(gx[t], h)
            c = f * c + i * g
            h = o * np.tanh(c)
            rec["input"][t], rec["forget"][t], rec["candidate"][t], rec["output"][t] = i, f, g, o
            rec["cell"][t], rec["hidden"][t] = c, h
        return rec


class _GRULayer:
    # torch keeps b_hn inside the reset product: n = tanh(W_in x + b_in + r * (W_hn h + b_hn)).
    def __init__(self, sd: Mapping[str, np.ndarray], layer: int) -> None:
        w_ih, w_hh, b_ih, b_hh = _torch_weights(sd, layer)
        self.H = w_hh.shape[0]
        scale = _half(self.H, 2, 1)  # r, z (sigmoid), n (tanh)
        self.w_ih, self.b_ih = w_ih * scale, b_ih * scale
        self.w_hh, self.b_hh = np.ascontiguousarray(w_hh * scale), b_hh * scale

    def project(self, x: np.ndarray) -> np.ndarray:
        return x @ self.w_ih + self.b_ih  # (N, 3H)

    def _gates(self, gx: np.ndarray, h: np.ndarray) -> tuple[np.ndarray, ...]:
        H = self.H
        gh = h @ self.w_hh + self.b_hh  # (B, 3H)
        s = 0.5 * np.tanh(gx[..., : 2 * H] + gh[..., : 2 * H]) + 0.5
        r, z = s[..., :H], s[..., H:]
        n = np.tanh(gx[..., 2 * H :] + r * gh[..., 2 * H :])
        return r, z, n

    def step(self, gx: np.ndarray, state: LayerState) -> LayerState:
        (h,) = state
        _, z, n = self._gates(gx, h)
        return (n + z * (h - n),)

    def trace(self, gx: np.ndarray, state: LayerState) -> dict[str, np.ndarray]:
        T = len(gx)
        rec = {name: np.empty((T, self.H), dtype=np.float32) for name in GRU.gates}
        h = state[0].reshape(-1)  # one stream: (H,)
        for t in range(T):
            r, z, n = self._gates(gx[t], h)
            h = n + z * (h - n)
            rec["reset"][t], rec["update"][t], rec["candidate"][t], rec["hidden"][t] = r, z, n, h
        return rec


class _RNNLayer:
    def __init__(self, sd: Mapping[str, np.ndarray], layer: int) -> None:
        w_ih, w_hh, b_ih, b_hh = _torch_weights(sd, layer)
        self.w_ih, self.w_hh, self.b = w_ih, w_hh, b_ih + b_hh

    def project(self, x: np.ndarray) -> np.ndarray:
        return x @ self.w_ih + self.b  # (N, H)

    def step(self, gx: np.ndarray, state: LayerState) -> LayerState:
        return (np.tanh(gx + state[0] @ self.w_hh),)

    def trace(self, gx: np.ndarray, state: LayerState) -> dict[str, np.ndarray]:
        out = np.empty((len(gx), self.w_hh.shape[0]), dtype=np.float32)
        h = state[0].reshape(-1)  # one stream: (H,)
        for t in range(len(gx)):
            h = out[t] = np.tanh(gx[t] + h @ self.w_hh)
        return {"hidden": out}


@functools.cache
def _fused_class(kind: str) -> type:
    """torch's fused module of ``kind``, taking and returning the state as a tuple. A subclass,
    not a wrapper: the parameter names stay torch's (``weight_ih_l0``, ...)."""
    from torch import nn

    base = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}[kind]

    def forward(self, x, state=None):
        if kind == "lstm":
            out, (h, c) = base.forward(self, x, state)
            return out, (h, c)
        out, h = base.forward(self, x, None if state is None else state[0])
        return out, (h,)

    return type(f"Fused{base.__name__}", (base,), {"forward": forward})


def _fused(kind: str) -> Callable[[int, int, int, float], nn.Module]:
    def build(inputs: int, hidden: int, layers: int, dropout: float) -> nn.Module:
        # torch applies dropout between layers only; with one layer it must be 0.
        return _fused_class(kind)(inputs, hidden, num_layers=layers, dropout=dropout if layers > 1 else 0.0, batch_first=True)

    return build


_SIGMOID, _TANH = (0.0, 1.0), (-1.0, 1.0)

RNN = register(
    CellSpec(
        name="rnn",
        gates=("hidden",),
        state=("h",),
        gate_ranges={"hidden": _TANH},
        default_gate="hidden",
        module=_fused("rnn"),
        layer_params=torch_layer_params(1),
        weight_shapes=torch_weight_shapes(1),
        numpy_layer=_RNNLayer,
        description="Elman RNN: h = tanh(W x + U h + b)",
    )
)
LSTM = register(
    CellSpec(
        name="lstm",
        gates=("input", "forget", "candidate", "output", "cell", "hidden"),
        state=("h", "c"),
        gate_ranges={
            "input": _SIGMOID,
            "forget": _SIGMOID,
            "candidate": _TANH,
            "output": _SIGMOID,
            "cell": (None, None),
            "hidden": _TANH,
        },
        # The cell state is where Karpathy's interpretable units (quotes, line position) show.
        default_gate="cell",
        module=_fused("lstm"),
        layer_params=torch_layer_params(4),
        weight_shapes=torch_weight_shapes(4),
        numpy_layer=_LSTMLayer,
        description="LSTM: input, forget and output gates around a cell state",
    )
)
GRU = register(
    CellSpec(
        name="gru",
        gates=("reset", "update", "candidate", "hidden"),
        state=("h",),
        gate_ranges={"reset": _SIGMOID, "update": _SIGMOID, "candidate": _TANH, "hidden": _TANH},
        default_gate="update",
        module=_fused("gru"),
        layer_params=torch_layer_params(3),
        weight_shapes=torch_weight_shapes(3),
        numpy_layer=_GRULayer,
        description="GRU: reset and update gates, no separate cell state",
    )
)


def numpy_weights(module: Any) -> dict[str, np.ndarray]:
    """A torch module's state_dict as float32 numpy arrays (the replay's input)."""
    return {k: v.detach().float().cpu().numpy() for k, v in module.state_dict().items()}
