"""Models: one interface for every cell, parameter breakdowns that add up."""

from __future__ import annotations

import pytest
import torch

from chartui.config import ModelConfig
from chartui.engine.models import CharModel


@pytest.mark.parametrize("arch", ["rnn", "lstm", "gru"])
@pytest.mark.parametrize("layers", [1, 2])
def test_forward_shapes_and_state(arch, layers):
    cfg = ModelConfig(arch=arch, layers=layers, embed=6, hidden=10, dropout=0.1)
    model = CharModel(cfg, vocab_size=13)
    idx = torch.randint(0, 13, (3, 7))
    logits, state = model(idx)
    assert logits.shape == (3, 7, 13)
    assert len(state) == (2 if arch == "lstm" else 1) and all(s.shape == (layers, 3, 10) for s in state)
    # carrying the state continues the sequence
    full, _ = model.eval()(idx)
    first, st = model(idx[:, :4])
    rest, _ = model(idx[:, 4:], st)
    assert torch.allclose(torch.cat([first, rest], 1), full, atol=1e-6)


@pytest.mark.parametrize("arch", ["rnn", "lstm", "gru"])
def test_parameter_breakdown_matches_the_module(arch):
    cfg = ModelConfig(arch=arch, layers=2, embed=32, hidden=128)
    model = CharModel(cfg, vocab_size=65)
    counts = model.param_breakdown()
    assert counts == cfg.param_breakdown(65)
    assert counts["total"] == sum(p.numel() for p in model.parameters())
    assert counts["embedding"] == 65 * 32 and counts["head"] == 128 * 65 + 65


def test_the_chapter_lstm_has_the_chapter_parameter_count():
    # Chapter 35's LSTM: vocab 65, embed 32, hidden 128 -> 93,409 parameters.
    model = CharModel(ModelConfig(arch="lstm", layers=1, embed=32, hidden=128), vocab_size=65)
    assert model.param_breakdown()["total"] == 2080 + 4 * 128 * (32 + 128 + 2) + 128 * 65 + 65 == 93_409
