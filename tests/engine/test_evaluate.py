"""Evaluation scores every character once, with its real context."""

from __future__ import annotations

import math

import numpy as np
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


def test_windows_protocol_scores_random_windows_from_a_zero_state():
    """nanoGPT's estimate_loss: each window read from a zero state, every position scored."""
    from chartui.engine.evaluate import evaluate_windows

    torch.manual_seed(0)
    model = CharModel(ModelConfig(arch="lstm", embed=8, hidden=16), vocab_size=11).eval()
    ids = torch.randint(0, 11, (3_000,))
    result = evaluate_windows(model, ids.numpy(), block=40, windows=30, seed=5, batch=7)
    starts = torch.randint(0, 3_000 - 40, (30,), generator=torch.Generator().manual_seed(5))
    total = 0.0
    with torch.no_grad():
        for s in starts.tolist():
            logits, _ = model(ids[s : s + 40][None])  # from a zero state, each window alone
            total += F.cross_entropy(logits[0], ids[s + 1 : s + 41], reduction="sum").item()
    assert result.chars == 30 * 40 and result.loss == pytest.approx(total / (30 * 40), rel=1e-5)


def test_dynamic_evaluation_adapts_a_copy_and_never_the_model():
    from chartui.config import DynamicSettings
    from chartui.engine.evaluate import evaluate_dynamic

    torch.manual_seed(0)
    model = CharModel(ModelConfig(arch="gru", embed=8, hidden=32), vocab_size=6).eval()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    text = torch.tensor([0, 1, 2, 3, 4, 5] * 400)  # a pattern the untrained model does not know
    static = evaluate_ids(model, text.numpy())
    dynamic = evaluate_dynamic(
        model, text.numpy(), train_ids=text.numpy(), settings=DynamicSettings(segment=20, lr=0.01, decay=0.0)
    )
    assert dynamic.chars == static.chars and dynamic.loss < static.loss - 0.5  # it learns the pattern as it reads
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())  # the run's model is untouched


def test_every_protocol_reads_a_read_only_memory_map_in_place(tmp_path):
    import warnings

    import numpy as np

    from chartui.engine.evaluate import evaluate_dynamic, evaluate_windows

    torch.manual_seed(0)
    model = CharModel(ModelConfig(arch="lstm", layers=1, embed=8, hidden=16), vocab_size=11).eval()
    values = np.random.default_rng(0).integers(0, 11, 3_001).astype(np.uint8)
    values.tofile(tmp_path / "ids")
    mapped = np.memmap(tmp_path / "ids", dtype=np.uint8, mode="r")  # as the corpus cache hands it out
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # torch warns when handed a read-only array
        windows = evaluate_windows(model, mapped, block=64, windows=40)
        dynamic = evaluate_dynamic(model, mapped[:600], train_ids=mapped)
    assert windows.loss == pytest.approx(
        evaluate_windows(model, torch.from_numpy(values.astype(np.int64)), block=64, windows=40).loss
    )
    assert math.isfinite(dynamic.loss)


def test_dynamic_evaluation_stays_stable_when_the_text_surprises_the_model():
    from chartui.engine.evaluate import evaluate_dynamic

    # A model trained until it all but rules character 5 out (its gradients on training text,
    # the normaliser's scale, are tiny) meets a text where 5 recurs: each surprise must take a
    # bounded step, and the copy should learn the new pattern rather than blow up.
    torch.manual_seed(0)
    model = CharModel(ModelConfig(arch="lstm", embed=8, hidden=32), vocab_size=6)
    train = np.array([0, 1, 2, 3, 4] * 600)
    x, y = torch.from_numpy(train[:2950]).view(-1, 50), torch.from_numpy(train[1:2951]).view(-1, 50)
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    for _ in range(60):
        logits, _ = model(x)
        loss = F.cross_entropy(logits.reshape(-1, 6), y.reshape(-1))
        opt.zero_grad()
        loss.backward()
        opt.step()
    model.eval()
    scored = np.array(([0, 1, 2, 3, 4] * 7 + [5]) * 60)
    static = evaluate_ids(model, scored)
    dynamic = evaluate_dynamic(model, scored, train_ids=train)  # the documented defaults
    assert math.isfinite(dynamic.loss) and dynamic.loss < static.loss


def test_an_evaluation_asked_to_stop_ends_before_its_next_block():
    from chartui.engine.evaluate import Cancelled

    model = CharModel(ModelConfig(arch="lstm", embed=4, hidden=8), vocab_size=11).eval()
    ids = torch.randint(0, 11, (2_001,), generator=torch.Generator().manual_seed(0)).numpy()
    asked = []

    def cancelled() -> bool:
        asked.append(True)
        return len(asked) > 2  # two blocks scored, then told to stop

    with pytest.raises(Cancelled):
        evaluate_ids(model, ids, streams=4, chunk=50, cancelled=cancelled)  # 10 blocks in all
    assert len(asked) == 3 and not model.training
    never = evaluate_ids(model, ids, streams=4, chunk=50, cancelled=lambda: False)
    assert never.loss == evaluate_ids(model, ids, streams=4, chunk=50).loss
