"""Batching: targets are inputs shifted by one; stateful streams continue across batches."""

from __future__ import annotations

import pytest
import torch

from chartui.engine.batches import StreamBatches, WindowBatches, make_batches
from chartui.errors import CorpusError

DATA = torch.arange(10_000) % 251  # distinct enough to locate every window


def test_targets_are_inputs_shifted_by_one():
    for kind in ("windows", "stateful"):
        batches = make_batches(kind, DATA, seq_len=16, batch=4, seed=0)
        x, y = batches.get(0, 3)
        assert x.shape == y.shape == (4, 16) and x.dtype == torch.long
        assert torch.equal(x[:, 1:], y[:, :-1])


def test_stateful_streams_are_contiguous_across_batches():
    data = torch.arange(5_000)
    b = StreamBatches(data, seq_len=10, batch=4, seed=0)
    for epoch in (0, 1, 2):
        prev_x, _ = b.get(epoch, 0)
        for i in range(1, b.steps_per_epoch):
            x, _y = b.get(epoch, i)
            assert torch.equal(x[:, 0], prev_x[:, -1] + 1)  # row b resumes where it stopped
            prev_x = x
    # streams are disjoint stretches of the corpus
    x, _ = b.get(0, 0)
    assert len(set(x[:, 0].tolist())) == 4 and torch.all(x[1:, 0] - x[:-1, 0] == b.stream_len)


def test_stateful_epochs_shift_the_cut_points_but_stay_in_range():
    b = StreamBatches(torch.arange(3_000), seq_len=10, batch=3, seed=5)
    assert b.offset(0) == 0
    offsets = {b.offset(e) for e in range(1, 20)}
    assert len(offsets) > 1 and all(0 <= o < 10 for o in offsets)
    for e in range(5):
        _x, y = b.get(e, b.steps_per_epoch - 1)
        assert int(y.max()) < 3_000


def test_windows_visit_every_window_once_per_epoch_in_a_seeded_order():
    data = torch.arange(10_000)
    b = WindowBatches(data, seq_len=20, batch=5, seed=3)
    starts = torch.cat([b.get(0, i)[0][:, 0] for i in range(b.steps_per_epoch)])
    assert len(set(starts.tolist())) == len(starts) == b.steps_per_epoch * 5 == 495
    assert all(int(s) % 20 == 0 for s in starts)  # non-overlapping windows
    again = WindowBatches(data, seq_len=20, batch=5, seed=3)
    assert torch.equal(again.get(0, 7)[0], b.get(0, 7)[0])
    assert not torch.equal(b.get(1, 0)[0], b.get(0, 0)[0])


@pytest.mark.parametrize("kind", ["windows", "stateful"])
def test_corpus_shorter_than_one_batch_is_refused(kind):
    with pytest.raises(CorpusError, match="shorter than one batch"):
        make_batches(kind, torch.arange(100), seq_len=50, batch=64, seed=0)
