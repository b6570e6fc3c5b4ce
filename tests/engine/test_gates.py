"""Gate traces and the ranking of interesting units."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from chartui.config import ModelConfig
from chartui.engine.corpus import Vocab
from chartui.engine.gates import GateTrace, rank_units, text_features, trace
from chartui.engine.models import CharModel
from chartui.errors import ConfigError

TEXT = 'ROMEO:\nBut, soft! what light through "yonder window" breaks?\nIt is the east.\n\nJULIET:\nAy me!\n'
VOCAB = Vocab("".join(sorted(set(TEXT))))


def test_trace_has_every_gate_per_character_and_next_character_guesses():
    torch.manual_seed(0)
    model = CharModel(ModelConfig(arch="lstm", layers=2, embed=8, hidden=16), VOCAB.size).eval()
    tr = trace(model, VOCAB, TEXT)
    assert len(tr.layers) == 2
    assert tr.values(1, "forget").shape == (len(TEXT), 16)
    assert tr.probs.shape == (len(TEXT), VOCAB.size)
    np.testing.assert_allclose(tr.probs.sum(1), 1, atol=1e-5)
    top = tr.top_next(3)
    assert len(top) == 5 and top[0][1] >= top[1][1]
    with pytest.raises(ConfigError, match="--gate 'reset' does not exist in a lstm"):
        tr.values(0, "reset")
    with pytest.raises(ConfigError, match="--layer must be between 0 and 1"):
        tr.values(2, "forget")


def test_trace_refuses_unseen_characters_and_oversized_text():
    model = CharModel(ModelConfig(arch="gru", embed=4, hidden=8), VOCAB.size).eval()
    with pytest.raises(ConfigError, match="never saw: '@'"):
        trace(model, VOCAB, "ROMEO @")
    with pytest.raises(ConfigError, match="at most 20,000"):
        trace(model, VOCAB, "a" * 20_001)
    with pytest.raises(ConfigError, match="empty"):
        trace(model, VOCAB, "")
    assert trace(model, VOCAB, "e" * 10_000).values(0, "update").shape == (10_000, 8)


def test_ranking_finds_a_unit_that_tracks_quotes_and_one_that_tracks_newlines():
    T = len(TEXT)
    feats = text_features(TEXT)
    rng = np.random.default_rng(0)
    hidden = rng.normal(0, 0.05, (T, 6)).astype(np.float32)
    hidden[:, 4] += feats["inside quotes"].astype(np.float32)  # a planted quote unit
    hidden[:, 1] -= feats["newline"].astype(np.float32)  # a planted (negative) newline unit
    tr = GateTrace(text=TEXT, arch="rnn", layers=[{"hidden": hidden}], probs=np.zeros((T, VOCAB.size)), vocab=VOCAB)
    ranking = rank_units(tr, layer=0, gate="hidden", top=3)
    found = {r.unit: r for r in ranking[:2]}
    assert found[4].feature == "inside quotes" and found[4].correlation > 0.9
    assert found[1].feature == "newline" and found[1].correlation < -0.9


def test_features_describe_what_was_read():
    f = text_features('ab "cd" e\nf')
    assert f["inside quotes"].tolist() == [0, 0, 0, 1, 1, 1, 0, 0, 0, 0, 0]
    assert f["newline"].tolist()[9] == 1 and f["position in line"].tolist()[-1] == 1
