"""The gate replay equals the fused module: the gate view shows what the model computes."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from chartui.config import ModelConfig
from chartui.engine import cells
from chartui.engine.models import CharModel
from chartui.engine.replay import Replay


def _model(arch: str, layers: int = 2) -> CharModel:
    torch.manual_seed(0)
    model = CharModel(ModelConfig(arch=arch, layers=layers, embed=12, hidden=24), vocab_size=20)
    with torch.no_grad():  # bigger weights than the default init, so the check has teeth
        for p in model.rnn.parameters():
            p.mul_(3.0)
    return model.eval()


@pytest.mark.parametrize("arch", ["lstm", "gru", "rnn"])
def test_replayed_hidden_states_equal_the_fused_module(arch):
    model = _model(arch)
    ids = torch.randint(0, 20, (1, 300), generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        layer_outputs = []
        x = model.embedding(ids)
        for layer in range(2):  # run the fused module layer by layer to see each layer's output
            sub = type(model.rnn)(x.shape[-1], 24, batch_first=True)
            sub.load_state_dict(
                {k.replace(f"_l{layer}", "_l0"): v for k, v in model.rnn.state_dict().items() if k.endswith(f"_l{layer}")}
            )
            x, _ = sub(x)
            layer_outputs.append(x[0].numpy())
        logits, _ = model(ids)
    gates, replay_logits = Replay(model).trace(ids[0].numpy())
    for layer in range(2):
        assert set(gates[layer]) == set(cells.get(arch).gates)
        np.testing.assert_allclose(gates[layer]["hidden"], layer_outputs[layer], atol=1e-5, rtol=0)
    np.testing.assert_allclose(replay_logits, logits[0].numpy(), atol=1e-4, rtol=1e-5)


@pytest.mark.parametrize("arch", ["lstm", "gru", "rnn"])
def test_step_by_step_equals_trace_and_carries_state(arch):
    model = _model(arch)
    replay = Replay(model)
    ids = np.array([3, 1, 4, 1, 5, 9, 2, 6])
    _, logits = replay.trace(ids)
    state = replay.zero_state(1)
    for t, i in enumerate(ids):
        step_logits, state = replay.step(np.array([i]), state)
        np.testing.assert_allclose(step_logits[0], logits[t], atol=1e-5)


def test_lstm_gates_obey_their_equations():
    model = _model("lstm", layers=1)
    gates, _ = Replay(model).trace(np.arange(20) % 20)
    g = gates[0]
    for name in ("input", "forget", "output"):
        assert g[name].min() >= 0 and g[name].max() <= 1
    c_prev = np.vstack([np.zeros((1, 24)), g["cell"][:-1]])
    np.testing.assert_allclose(g["cell"], g["forget"] * c_prev + g["input"] * g["candidate"], atol=1e-6)
    np.testing.assert_allclose(g["hidden"], g["output"] * np.tanh(g["cell"]), atol=1e-6)
