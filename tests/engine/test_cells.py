"""The cell registry: a cell registered here, in this file alone, trains, samples, evaluates,
traces and resumes through the engine, with no other module edited."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from chartui.config import ModelConfig
from chartui.engine import cells
from chartui.engine.evaluate import evaluate_ids
from chartui.engine.events import StepDone
from chartui.engine.gates import rank_units, trace
from chartui.engine.models import CharModel
from chartui.engine.replay import Replay
from chartui.engine.runs import Run, open_model
from chartui.engine.sample import generate
from chartui.engine.train import Trainer
from tests.conftest import run_main, train_run


class MGU(nn.Module):
    """Minimal gated unit (Zhou et al., 2016), written out in torch: one forget gate f,
    a candidate n = tanh(W_n x + U_n (f * h) + b_n), and h' = (1 - f) h + f n."""

    def __init__(self, inputs: int, hidden: int, layers: int, dropout: float) -> None:
        super().__init__()
        self.hidden, self.layers, self.drop = hidden, layers, nn.Dropout(dropout)
        for k in range(layers):
            fan_in = inputs if k == 0 else hidden
            self.register_parameter(f"weight_ih_l{k}", nn.Parameter(torch.randn(2 * hidden, fan_in) / fan_in**0.5))
            self.register_parameter(f"weight_hh_l{k}", nn.Parameter(torch.randn(2 * hidden, hidden) / hidden**0.5))
            self.register_parameter(f"bias_ih_l{k}", nn.Parameter(torch.zeros(2 * hidden)))
            self.register_parameter(f"bias_hh_l{k}", nn.Parameter(torch.zeros(2 * hidden)))

    def forward(self, x, state=None):
        B, T, _ = x.shape
        H = self.hidden
        h0 = state[0] if state is not None else x.new_zeros(self.layers, B, H)
        finals = []
        for k in range(self.layers):
            w_ih, w_hh = getattr(self, f"weight_ih_l{k}"), getattr(self, f"weight_hh_l{k}")
            b_ih, b_hh = getattr(self, f"bias_ih_l{k}"), getattr(self, f"bias_hh_l{k}")
            gx = x @ w_ih.T + b_ih  # (B, T, 2H)
            h, outs = h0[k], []
            for t in range(T):
                f = torch.sigmoid(gx[:, t, :H] + h @ w_hh[:H].T + b_hh[:H])
                n = torch.tanh(gx[:, t, H:] + (f * h) @ w_hh[H:].T + b_hh[H:])
                h = (1 - f) * h + f * n
                outs.append(h)
            x = torch.stack(outs, 1)  # (B, T, H)
            finals.append(h)
            if k < self.layers - 1:
                x = self.drop(x)
        return x, (torch.stack(finals),)


class MGULayer:
    """The same cell in numpy, for sampling and the gate view."""

    def __init__(self, sd, layer):
        self.w_ih, self.b_ih = sd[f"weight_ih_l{layer}"].T, sd[f"bias_ih_l{layer}"]
        w_hh, b_hh = sd[f"weight_hh_l{layer}"], sd[f"bias_hh_l{layer}"]
        self.H = w_hh.shape[1]
        self.u_f, self.u_n, self.b_f, self.b_n = w_hh[: self.H].T, w_hh[self.H :].T, b_hh[: self.H], b_hh[self.H :]

    def project(self, x):
        return x @ self.w_ih + self.b_ih

    def _step(self, gx, h):
        f = 1 / (1 + np.exp(-(gx[..., : self.H] + h @ self.u_f + self.b_f)))
        n = np.tanh(gx[..., self.H :] + (f * h) @ self.u_n + self.b_n)
        return f, n, (1 - f) * h + f * n

    def step(self, gx, state):
        return (self._step(gx, state[0])[2],)

    def trace(self, gx, state):
        h, rec = state[0].reshape(-1), {g: np.empty((len(gx), self.H), np.float32) for g in ("forget", "candidate", "hidden")}
        for t in range(len(gx)):
            rec["forget"][t], rec["candidate"][t], h = self._step(gx[t], h)
            rec["hidden"][t] = h
        return rec


MGU_CELL = cells.CellSpec(
    name="mgu",
    gates=("forget", "candidate", "hidden"),
    state=("h",),
    gate_ranges={"forget": (0.0, 1.0), "candidate": (-1.0, 1.0), "hidden": (-1.0, 1.0)},
    default_gate="forget",
    module=MGU,
    layer_params=lambda inputs, hidden: 2 * hidden * (inputs + hidden + 2),
    numpy_layer=MGULayer,
)


@pytest.fixture
def mgu():
    cells.register(MGU_CELL)
    yield MGU_CELL
    cells.unregister("mgu")


def test_a_registered_cell_goes_through_the_whole_engine(mgu, small_corpus, tmp_path):
    trainer, events = train_run(
        small_corpus, tmp_path / "run", arch="mgu", layers=2, hidden=24, max_steps=60, lr=0.02, eval_interval=30, seq_len=12
    )
    losses = [e.loss for e in events if isinstance(e, StepDone)]
    assert sum(losses[-10:]) / 10 < sum(losses[:5]) / 5 - 0.5  # it learns
    assert trainer.params == ModelConfig(arch="mgu", layers=2, embed=8, hidden=24).param_breakdown(trainer.vocab.size)

    loaded = open_model(tmp_path / "run")
    assert Run(tmp_path / "run").info.label == "mgu 2x24"
    text = generate(loaded.model, loaded.vocab, prompt="KING ", length=60, seed=1)[0]
    assert len(text) == 60
    assert evaluate_ids(loaded.model, Run(tmp_path / "run").validation_ids()).loss == pytest.approx(
        loaded.progress.best_val_loss, rel=1e-5
    )

    tr = trace(loaded.model, loaded.vocab, "KING RICHARD:\nNow is the winter")
    assert tr.gate_names == ("forget", "candidate", "hidden") and tr.default_gate == "forget"
    assert rank_units(tr, layer=1, gate="forget", top=3)
    with torch.no_grad():  # the replay equals the torch module
        ids = torch.from_numpy(loaded.vocab.encode("KING RICHARD:\nNow is the winter"))[None]
        logits, _ = loaded.model(ids)
    np.testing.assert_allclose(softmax(logits[0].numpy()), tr.probs, atol=1e-5)

    rest = list(Trainer.resume(tmp_path / "run", {"max_steps": 70}))
    assert rest[0].step == 60 and rest[-1].steps == 70 and rest[-1].reason == "budget"


def softmax(z):
    e = np.exp(z - z.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def test_a_registered_cell_is_a_choice_on_the_command_line(mgu, small_corpus, tmp_path):
    code, out, err = run_main(
        "train",
        "--corpus",
        str(small_corpus),
        "--preset",
        "seed",
        "--arch",
        "mgu",
        "--hidden",
        "8",
        "--embed",
        "4",
        "--seq-len",
        "8",
        "--batch-size",
        "4",
        "--max-steps",
        "3",
        "--run",
        str(tmp_path / "r"),
        "--json",
    )
    assert code == 0, err
    code, out, err = run_main("gates", str(tmp_path / "r"), "--text", "KING", "--json")
    assert code == 0 and '"gate": "forget"' in out


def test_an_unknown_cell_names_the_registered_ones():
    with pytest.raises(Exception, match="unknown architecture 'transformer'; choose one of rnn, lstm, gru"):
        ModelConfig(arch="transformer")


@pytest.mark.parametrize("name", ["rnn", "lstm", "gru"])
def test_the_built_in_cells_count_their_parameters_like_torch(name):
    model = CharModel(ModelConfig(arch=name, layers=2, embed=12, hidden=20), vocab_size=30)
    assert model.param_breakdown() == model.config.param_breakdown(30)
    assert Replay(model).cell is cells.get(name)
