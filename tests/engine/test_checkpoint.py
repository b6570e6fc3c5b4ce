"""Checkpoint files: self-sufficient, written atomically, and never a way to run code."""

from __future__ import annotations

import errno
import json
import os
import pickle
import shutil
import struct

import pytest
import torch
from safetensors.torch import save

from chartui.engine import runs
from chartui.engine.atomic import atomic_write
from chartui.engine.checkpoint import FORMAT, load_tensors, read_meta
from chartui.engine.events import Finished
from chartui.engine.runs import Run, load_checkpoint, open_model
from chartui.engine.sample import generate
from chartui.engine.train import Trainer
from chartui.errors import ChartuiError, CheckpointError, RunError, SaveError
from tests.conftest import train_run


class _Payload:
    """Unpickling this creates a file: proof that code ran."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (open, (str(self.marker), "w"))


def test_a_checkpoint_alone_is_enough_to_sample(tiny_run, tmp_path):
    lone = tmp_path / "model.safetensors"
    shutil.copy(tiny_run / runs.BEST, lone)
    alone = open_model(lone)
    in_run = open_model(tiny_run, "best")
    assert alone.vocab == in_run.vocab and alone.info == in_run.info and alone.info.model.layers == 2
    a = generate(alone.model, alone.vocab, prompt="KING ", length=80, seed=3)
    b = generate(in_run.model, in_run.vocab, prompt="KING ", length=80, seed=3)
    assert a == b


def test_every_checkpoint_carries_the_runs_own_description(tiny_run):
    """Not a divergent copy: run.json and both checkpoints hold the same description."""
    described = json.loads((tiny_run / runs.RUN_JSON).read_text())
    for name in (runs.LAST, runs.BEST):
        meta = read_meta(tiny_run / name)
        assert meta.version == 2 and meta.run == {k: v for k, v in described.items() if k not in ("format", "version")}
        assert meta.state["kind"] == name.split(".")[0]


@pytest.mark.parametrize("name", [runs.LAST, runs.BEST, "custom.safetensors"])
def test_a_pickle_posing_as_a_checkpoint_is_refused_without_running(tmp_path, name):
    marker = tmp_path / "pwned"
    run = tmp_path / "run"
    run.mkdir()
    (run / name).write_bytes(pickle.dumps(_Payload(marker)))
    torch.save({"weights": _Payload(marker)}, run / "zip.safetensors")  # torch's zip-pickle format too
    for target in (run / name, run / "zip.safetensors"):
        with pytest.raises(CheckpointError, match="not a chartui checkpoint"):
            load_checkpoint(target)
    if name != "custom.safetensors":
        with pytest.raises(ChartuiError):
            open_model(run)
        with pytest.raises(ChartuiError):
            Trainer.resume(run)
    assert not marker.exists()


def _rewrite(src, dst, *, tensors=None, run=None, state=None, meta=None):
    """A copy of checkpoint ``src`` at ``dst`` with parts of it replaced."""
    old = read_meta(src)
    t = {**load_tensors(src), **(tensors or {})}
    m = {
        "format": FORMAT,
        "version": 2,
        "run": {**old.run, **(run or {})},
        "state": {**old.state, **(state or {})},
        **(meta or {}),
    }
    dst.write_bytes(save(t, metadata={"chartui": json.dumps(m)}))
    return dst


@pytest.mark.parametrize(
    "change, message",
    [
        ({"tensors": {"model.rnn.weight_hh_l0": torch.zeros(3, 3)}}, r"rnn.weight_hh_l0 has shape \(3, 3\)"),
        ({"tensors": {"model.rnn.bias_hh_l0": torch.zeros(64, dtype=torch.int64)}}, "dtype"),
        ({"tensors": {"model.extra": torch.zeros(1)}}, "unexpected model.extra|unexpected extra"),
        ({"meta": {"version": 99}}, "newer chartui"),
        ({"meta": {"version": "x"}}, "unknown checkpoint format version"),
        ({"meta": {"format": "other"}}, "wrong format tag"),
        ({"run": {"vocab": None}}, "vocabulary in its metadata is missing"),
        ({"run": {"model": {"arch": "transformer"}}}, "model settings in its metadata are invalid"),
        ({"run": {"model": "lstm"}}, "model settings in its metadata are invalid"),
    ],
    ids=["shape", "dtype", "extra", "version", "version-type", "format", "no-vocab", "bad-model", "model-not-a-table"],
)
def test_damaged_or_mismatched_checkpoints_are_refused(tiny_run, tmp_path, change, message):
    bad = _rewrite(tiny_run / runs.BEST, tmp_path / "bad.safetensors", **change)
    with pytest.raises(CheckpointError, match=message):
        open_model(bad)


def test_vocabulary_that_does_not_match_the_weights_is_refused(tiny_run, tmp_path):
    vocab = read_meta(tiny_run / runs.BEST).run["vocab"]
    bad = _rewrite(tiny_run / runs.BEST, tmp_path / "bad.safetensors", run={"vocab": vocab[:-1]})
    with pytest.raises(CheckpointError, match="vocabulary does not match the weights"):
        open_model(bad)


@pytest.mark.parametrize(
    "keep, message",
    [(0, "not a chartui checkpoint"), (5, "not a chartui checkpoint"), (8, "truncated"), (100, "truncated"), (-10, "truncated")],
)
def test_truncated_files_are_refused(tiny_run, tmp_path, keep, message):
    data = (tiny_run / runs.LAST).read_bytes()
    bad = tmp_path / "cut.safetensors"
    bad.write_bytes(data[:keep])
    with pytest.raises(CheckpointError, match=message):
        load_checkpoint(bad)


def test_a_header_claiming_too_much_is_refused(tmp_path):
    bad = tmp_path / "huge.safetensors"
    bad.write_bytes(struct.pack("<Q", 1 << 40) + b"{}")
    with pytest.raises(CheckpointError, match="not a chartui checkpoint"):
        read_meta(bad)


def _hostile_header(path, table: dict) -> None:
    raw = json.dumps(table).encode()
    path.write_bytes(struct.pack("<Q", len(raw)) + raw)


@pytest.mark.parametrize(
    "entry",
    [
        {"dtype": ["F32"], "shape": [1], "data_offsets": [0, 4]},
        {"dtype": "F32", "shape": [1], "data_offsets": [None, "4"]},
        {"dtype": "F32", "shape": [True], "data_offsets": [0, 4]},
    ],
)
def test_malformed_tensor_tables_are_refused_not_crashed_on(tmp_path, entry):
    path = tmp_path / "bad.safetensors"
    _hostile_header(path, {"__metadata__": {"chartui": json.dumps({"format": FORMAT, "version": 2})}, "model.x": entry})
    with pytest.raises(CheckpointError, match="malformed"):
        read_meta(path)


def test_metadata_claiming_a_huge_model_is_refused_without_allocating_it(tiny_run, tmp_path):
    model = read_meta(tiny_run / runs.BEST).run["model"]
    bad = _rewrite(tiny_run / runs.BEST, tmp_path / "huge.safetensors", run={"model": {**model, "hidden": 10**8}})
    with pytest.raises(CheckpointError, match="has shape"):
        open_model(bad)


def test_a_folder_or_a_missing_file_is_named(tmp_path):
    with pytest.raises(CheckpointError, match="is a folder"):
        read_meta(tmp_path)
    with pytest.raises(CheckpointError, match="does not exist"):
        read_meta(tmp_path / "nope.safetensors")


def test_atomic_write_keeps_the_old_file_when_the_disk_is_full(tmp_path, monkeypatch):
    (tmp_path / "d").mkdir()
    target = tmp_path / "d" / "f.bin"
    atomic_write(target, b"old")

    def full(fd, data):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "write", full)
    with pytest.raises(SaveError, match=r"the disk is full; the previous f\.bin is intact"):
        atomic_write(target, b"new" * 1000)
    monkeypatch.undo()
    assert target.read_bytes() == b"old"
    assert [p.name for p in target.parent.iterdir()] == ["f.bin"]  # no temporary left behind


@pytest.mark.parametrize("err, words", [(errno.ENOSPC, "the disk is full"), (errno.EROFS, "read-only")])
def test_training_stops_cleanly_when_saving_fails(small_corpus, tmp_path, monkeypatch, err, words):
    train_run(small_corpus, tmp_path / "run", max_steps=5)
    good = (tmp_path / "run" / runs.LAST).read_bytes()
    real_replace = os.replace

    def failing_replace(src, dst):
        if str(dst).endswith(".safetensors"):
            raise OSError(err, os.strerror(err))
        return real_replace(src, dst)

    monkeypatch.setattr(os, "replace", failing_replace)
    events = list(Trainer.resume(tmp_path / "run", {"max_steps": 12}))
    finished = events[-1]
    assert isinstance(finished, Finished) and finished.reason == "error" and words in finished.message
    monkeypatch.undo()
    assert (tmp_path / "run" / runs.LAST).read_bytes() == good
    assert not list((tmp_path / "run").glob(".*.tmp"))


def test_resume_refuses_a_checkpoint_without_training_state(tiny_run, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(tiny_run, run, ignore=shutil.ignore_patterns(runs.LOCK))
    _rewrite(run / runs.BEST, run / runs.LAST, state={"kind": "best"})  # weights only, posing as last
    with pytest.raises(RunError, match="holds no training state"):
        Trainer.resume(run, {"max_steps": 100})
    assert not Run(run).training_elsewhere()  # the refused resume let go of the lock


@pytest.mark.parametrize("tensor, shape", [("optim.0.exp_avg", (2, 2)), ("state.h", (1, 3, 3))])
def test_resume_refuses_training_state_of_the_wrong_shape(small_corpus, tmp_path, tensor, shape):
    train_run(small_corpus, tmp_path / "run", max_steps=3, batching="stateful")
    _rewrite(tmp_path / "run" / runs.LAST, tmp_path / "run" / runs.LAST, tensors={tensor: torch.zeros(shape)})
    with pytest.raises(RunError, match="cannot be restored"):
        Trainer.resume(tmp_path / "run", {"max_steps": 10})


def test_a_bf16_hidden_state_is_saved_so_the_numpy_reader_reads_it(tmp_path):
    # Training under bf16 autocast carries its hidden state in bf16; the torch-free reader
    # (sample, gates) must still read the checkpoint, and resuming must get the same values.
    import torch

    from chartui.engine.checkpoint import load_arrays, save_checkpoint

    state = torch.randn(1, 2, 8).to(torch.bfloat16)
    save_checkpoint(tmp_path / "c.safetensors", {"w": torch.ones(3), "state.h": state}, run={}, state={})
    arrays = load_arrays(tmp_path / "c.safetensors")
    assert arrays is not None and arrays["state.h"].dtype.name == "float32"
    assert torch.equal(torch.from_numpy(arrays["state.h"]).to(torch.bfloat16), state)
