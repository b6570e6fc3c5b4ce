"""Evaluation scores every character once, with its real context."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from chartui.config import ModelConfig
from chartui.engine.evaluate import evaluate_ids
from chartui.engine.models import CharModel


def test_streamed_evaluation_equals_the_loss_over_each_stream():
    torch.manual_seed(0)
    model = CharModel(ModelConfig(arch="gru", layers=2, embed=8, hidden=16), vocab_size=11).eval()
    ids = torch.randint(0, 11, (5_003,))
    result = evaluate_ids(model, ids.numpy(), streams=4, chunk=97)
    # by hand: 4 contiguous streams of ceil(5002 / 4) predictions, each from a zero state
    n = ids.numel() - 1
    L = math.ceil(n / 4)
    total = 0.0
    with torch.no_grad():
        for s in range(4):
            x = ids[s * L : min(s * L + L, n)]
            y = ids[s * L + 1 : min(s * L + L, n) + 1]
            logits, _ = model(x[None])
            total += F.cross_entropy(logits[0], y, reduction="sum").item()
    assert result.chars == n
    assert result.loss == pytest.approx(total / n, rel=1e-5)
    assert result.bits_per_char == pytest.approx(result.loss / math.log(2))
    assert result.perplexity == pytest.approx(math.exp(result.loss))


def test_an_untrained_model_scores_near_uniform():
    torch.manual_seed(0)
    model = CharModel(ModelConfig(arch="lstm", embed=4, hidden=8), vocab_size=30)
    result = evaluate_ids(model, torch.randint(0, 30, (2_000,)).numpy())
    assert abs(result.loss - math.log(30)) < 0.2
