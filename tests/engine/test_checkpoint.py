"""Checkpoints: self-sufficient, written atomically, and never a way to run code."""

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

from chartui.engine import checkpoint as ck
from chartui.engine.events import Finished
from chartui.engine.sample import generate
from chartui.engine.train import Trainer
from chartui.errors import CheckpointError, ChartuiError, RunError, SaveError
from tests.conftest import train_run


class _Payload:
    """Unpickling this creates a file: proof that code ran."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (open, (str(self.marker), "w"))


def _copy_run(tiny_run, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(tiny_run, run, ignore=shutil.ignore_patterns(ck.LOCK))
    return run


def test_a_checkpoint_alone_is_enough_to_sample(tiny_run, tmp_path):
    lone = tmp_path / "model.safetensors"
    shutil.copy(tiny_run / ck.BEST, lone)
    model, vocab, ckpt = ck.open_run(lone)
    model2, vocab2, _ = ck.open_run(tiny_run, "best")
    assert vocab == vocab2 and ckpt.meta["model"]["layers"] == 2
    a = generate(model, vocab, prompt="KING ", length=80, seed=3)
    b = generate(model2, vocab2, prompt="KING ", length=80, seed=3)
    assert a == b


@pytest.mark.parametrize("name", [ck.LAST, ck.BEST, "custom.safetensors"])
def test_a_pickle_posing_as_a_checkpoint_is_refused_without_running(tmp_path, name):
    marker = tmp_path / "pwned"
    run = tmp_path / "run"
    run.mkdir()
    (run / name).write_bytes(pickle.dumps(_Payload(marker)))
    torch.save({"weights": _Payload(marker)}, run / "zip.safetensors")  # torch's zip-pickle format too
    for target in (run / name, run / "zip.safetensors"):
        with pytest.raises(CheckpointError, match="not a chartui checkpoint"):
            ck.load_checkpoint(target)
    if name != "custom.safetensors":
        with pytest.raises(ChartuiError):
            ck.open_run(run)
        with pytest.raises(ChartuiError):
            Trainer.resume(run)
    assert not marker.exists()


def _rewrite(src, dst, *, tensors=None, meta=None):
    ckpt = ck.load_checkpoint(src)
    t = dict(ckpt.tensors)
    m = dict(ckpt.meta)
    t.update(tensors or {})
    m.update(meta or {})
    dst.write_bytes(save(t, metadata={"chartui": json.dumps(m)}))
    return dst


@pytest.mark.parametrize(
    "change, message",
    [
        ({"tensors": {"model.rnn.weight_hh_l0": torch.zeros(3, 3)}}, r"rnn.weight_hh_l0 has shape \(3, 3\)"),
        ({"tensors": {"model.rnn.bias_hh_l0": torch.zeros(64, dtype=torch.int64)}}, "dtype"),
        ({"meta": {"version": 99}}, "newer chartui"),
        ({"meta": {"version": "x"}}, "unknown checkpoint format version"),
        ({"meta": {"format": "other"}}, "wrong format tag"),
        ({"meta": {"vocab": None}}, "vocabulary in its metadata is missing"),
        ({"meta": {"model": {"arch": "transformer"}}}, "model settings in its metadata are invalid"),
    ],
    ids=["shape", "dtype", "version", "version-type", "format", "no-vocab", "bad-model"],
)
def test_damaged_or_mismatched_checkpoints_are_refused(tiny_run, tmp_path, change, message):
    bad = _rewrite(tiny_run / ck.BEST, tmp_path / "bad.safetensors", **change)
    with pytest.raises(CheckpointError, match=message):
        ck.open_run(bad)


def test_vocabulary_that_does_not_match_the_weights_is_refused(tiny_run, tmp_path):
    vocab = ck.load_checkpoint(tiny_run / ck.BEST).meta["vocab"]
    bad = _rewrite(tiny_run / ck.BEST, tmp_path / "bad.safetensors", meta={"vocab": vocab[:-1]})
    with pytest.raises(CheckpointError, match="vocabulary does not match the weights"):
        ck.open_run(bad)


@pytest.mark.parametrize("keep", [0, 5, 8, 100, -10])
def test_truncated_files_are_refused(tiny_run, tmp_path, keep):
    data = (tiny_run / ck.LAST).read_bytes()
    bad = tmp_path / "cut.safetensors"
    bad.write_bytes(data[:keep] if keep >= 0 else data[:keep])
    with pytest.raises(CheckpointError):
        ck.load_checkpoint(bad)


def test_a_header_claiming_too_much_is_refused(tmp_path):
    bad = tmp_path / "huge.safetensors"
    bad.write_bytes(struct.pack("<Q", 1 << 40) + b"{}")
    with pytest.raises(CheckpointError, match="not a chartui checkpoint"):
        ck.read_header(bad)


def test_runs_that_do_not_exist_or_are_not_runs(tmp_path):
    with pytest.raises(RunError, match="no run at"):
        ck.find_checkpoint(tmp_path / "nope")
    (tmp_path / "folder").mkdir()
    with pytest.raises(RunError, match="not a chartui run"):
        ck.find_checkpoint(tmp_path / "folder")


def test_atomic_write_keeps_the_old_file_when_the_disk_is_full(tmp_path, monkeypatch):
    (tmp_path / "d").mkdir()
    target = tmp_path / "d" / "f.bin"
    ck.atomic_write(target, b"old")

    def full(fd, data):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "write", full)
    with pytest.raises(SaveError, match="the disk is full; the previous f.bin is intact"):
        ck.atomic_write(target, b"new" * 1000)
    monkeypatch.undo()
    assert target.read_bytes() == b"old"
    assert [p.name for p in target.parent.iterdir()] == ["f.bin"]  # no temporary left behind


@pytest.mark.parametrize("err, words", [(errno.ENOSPC, "the disk is full"), (errno.EROFS, "read-only")])
def test_training_stops_cleanly_when_saving_fails(small_corpus, tmp_path, monkeypatch, err, words):
    train_run(small_corpus, tmp_path / "run", max_steps=5)
    good = (tmp_path / "run" / ck.LAST).read_bytes()
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
    assert (tmp_path / "run" / ck.LAST).read_bytes() == good
    assert not list((tmp_path / "run").glob(".*.tmp"))


def test_a_second_trainer_on_the_same_run_is_refused_while_readers_still_work(small_corpus, tmp_path):
    train_run(small_corpus, tmp_path / "run", max_steps=5)
    first = Trainer.resume(tmp_path / "run", {"max_steps": 10})
    try:
        with pytest.raises(RunError, match="being trained by another chartui process"):
            Trainer.resume(tmp_path / "run", {"max_steps": 10})
        model, vocab, _ = ck.open_run(tmp_path / "run")  # readers take no lock
        assert generate(model, vocab, length=10)
        assert ck.run_summary(tmp_path / "run")["status"] == "training"
    finally:
        list(first)  # train it out; the lock is released at the end
    assert ck.run_summary(tmp_path / "run")["status"] == "finished"
    Trainer.resume(tmp_path / "run", {"max_steps": 11})._lock.release()


def test_metrics_tolerate_a_torn_last_line(tmp_path):
    path = tmp_path / ck.METRICS
    writer = ck.MetricsWriter(path)
    writer.write({"event": "step", "step": 1})
    writer.write({"event": "step", "step": 2})
    writer.close()
    follower = ck.MetricsFollower(path)
    assert [r["step"] for r in follower.poll()] == [1, 2]
    with open(path, "a") as fh:
        fh.write('{"event": "step", "st')  # a crash mid-write
    assert [r["step"] for r in ck.read_metrics(path)] == [1, 2]
    assert follower.poll() == []
    with open(path, "a") as fh:
        fh.write('ep": 3}\n')
    assert [r["step"] for r in follower.poll()] == [3]


def test_list_runs_summarises_each_run(tiny_run, tmp_path):
    root = tmp_path / "checkpoints"
    shutil.copytree(tiny_run, root / "a", ignore=shutil.ignore_patterns(ck.LOCK))
    (root / "group" / "b").mkdir(parents=True)
    shutil.copy(tiny_run / ck.BEST, root / "group" / "b" / ck.BEST)
    (root / "junk").mkdir()
    (root / "junk" / ck.RUN_JSON).write_text("{not json")
    runs = ck.list_runs(root)
    assert [r["name"] for r in runs] == ["a", "b"] or [r["name"] for r in runs] == ["b", "a"]
    a = next(r for r in runs if r["name"] == "a")
    assert a["arch"] == "lstm" and a["params"] > 0 and a["status"] == "finished" and a["best_val_loss"] > 0


def _hostile_header(path, table: dict) -> None:
    raw = json.dumps(table).encode()
    path.write_bytes(struct.pack("<Q", len(raw)) + raw)


@pytest.mark.parametrize("entry", [{"dtype": ["F32"], "shape": [1], "data_offsets": [0, 4]},
                                   {"dtype": "F32", "shape": [1], "data_offsets": [None, "4"]},
                                   {"dtype": "F32", "shape": [True], "data_offsets": [0, 4]}])
def test_malformed_tensor_tables_are_refused_not_crashed_on(tmp_path, entry):
    path = tmp_path / "bad.safetensors"
    meta = {"format": ck.FORMAT, "version": 1}
    _hostile_header(path, {"__metadata__": {"chartui": json.dumps(meta)}, "model.x": entry})
    with pytest.raises(CheckpointError, match="malformed"):
        ck.read_header(path)


def test_listing_survives_hostile_metadata(tmp_path):
    root = tmp_path / "checkpoints"
    (root / "a").mkdir(parents=True)
    (root / "a" / ck.RUN_JSON).write_text(json.dumps(["not", "a", "table"]))
    (root / "b").mkdir()
    (root / "b" / ck.RUN_JSON).write_text(json.dumps({"model": "lstm", "corpus": 7, "params": [1]}))
    (root / "c").mkdir()
    meta = {"format": ck.FORMAT, "version": 1, "model": ["x"], "step": "many", "best_val_loss": "low", "status": 3}
    _hostile_header(root / "c" / ck.LAST, {"__metadata__": {"chartui": json.dumps(meta)}})
    runs = {r["name"]: r for r in ck.list_runs(root)}
    assert set(runs) == {"b", "c"} and runs["c"]["step"] == 0 and runs["c"]["best_val_loss"] is None


def test_metadata_claiming_a_huge_model_is_refused_without_allocating_it(tiny_run, tmp_path):
    meta = ck.load_checkpoint(tiny_run / ck.BEST).meta
    bad = _rewrite(tiny_run / ck.BEST, tmp_path / "huge.safetensors", meta={"model": {**meta["model"], "hidden": 10**8}})
    with pytest.raises(CheckpointError, match="has shape"):
        ck.open_run(bad)


@pytest.mark.parametrize("tensor, shape", [("optim.0.exp_avg", (2, 2)), ("state.h", (1, 3, 3))])
def test_resume_refuses_training_state_of_the_wrong_shape(small_corpus, tmp_path, tensor, shape):
    train_run(small_corpus, tmp_path / "run", max_steps=3, batching="stateful")
    _rewrite(tmp_path / "run" / ck.LAST, tmp_path / "run" / ck.LAST, tensors={tensor: torch.zeros(shape)})
    with pytest.raises(RunError, match="cannot be restored"):
        Trainer.resume(tmp_path / "run")
