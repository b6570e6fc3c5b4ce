"""Runs: one object for a run folder, its description, lock, split and resume rule; runs
written by earlier versions keep working."""

from __future__ import annotations

import dataclasses
import json
import struct

import numpy as np
import pytest

from chartui.config import build_configs, load_preset
from chartui.engine import runs
from chartui.engine.checkpoint import FORMAT, read_meta
from chartui.engine.corpus import load_corpus
from chartui.engine.evaluate import evaluate_ids
from chartui.engine.gates import trace
from chartui.engine.metrics import MetricsFollower, MetricsWriter, read_metrics, trim_metrics
from chartui.engine.runs import Run, RunInfo, list_runs, open_model, split_ids
from chartui.engine.sample import generate
from chartui.engine.train import Trainer
from chartui.errors import ConfigError, NothingToTrain, RunError
from tests.conftest import copy_run, tiny_configs, train_run
from tests.fixtures.format1 import write_format1_run


def test_run_info_is_typed_and_round_trips(tiny_run):
    info = Run(tiny_run).info
    assert info.label == "lstm 2x16" and info.model.hidden == 16 and info.train.max_steps == 60
    assert info.params["total"] == sum(info.params[k] for k in ("embedding", "recurrent", "head"))
    assert info.corpus.train_chars + info.corpus.val_chars == info.corpus.chars == 40_000
    assert RunInfo.from_dict(info.to_dict(), source="x") == info


def test_a_new_run_folder_is_claimed_not_shared(home, monkeypatch):
    class Frozen:
        @staticmethod
        def now():
            import datetime

            return datetime.datetime(2026, 1, 1, 12, 0, 0)

    monkeypatch.setattr(runs, "datetime", Frozen)
    a, b = Run.create(name="lstm-x"), Run.create(name="lstm-x")
    assert a.path != b.path and a.path.parent == b.path.parent == home / "checkpoints"
    assert b.path.name == "20260101-120000-lstm-x-2"


def test_a_run_is_never_written_beside_foreign_files(tmp_path, small_corpus):
    user = tmp_path / "my-notes"
    user.mkdir()
    (user / "thesis.tex").write_text("precious")
    with pytest.raises(RunError, match="not a chartui run"):
        Run.create(user)
    with pytest.raises(RunError, match="needs a folder"):
        Run.create("")
    (tmp_path / "file").write_text("x")
    with pytest.raises(RunError, match="is a file"):
        Run.create(tmp_path / "file")
    assert sorted(p.name for p in user.iterdir()) == ["thesis.tex"]
    (tmp_path / "empty").mkdir()
    assert Run.create(tmp_path / "empty").path == (tmp_path / "empty").absolute()


def test_the_lock_is_a_context_manager_and_refuses_a_second_holder(tiny_run, tmp_path):
    run = Run(copy_run(tiny_run, tmp_path / "run"))
    with run.lock():
        assert run.training_elsewhere()
        with pytest.raises(RunError, match=r"being trained by another chartui process \(pid \d+\)"), run.lock():
            pass
        assert run.summary().status == "training"
    assert not run.training_elsewhere() and run.summary().status == "finished"


def test_a_second_trainer_is_refused_while_readers_still_work(small_corpus, tmp_path):
    train_run(small_corpus, tmp_path / "run", max_steps=5)
    first = Trainer.resume(tmp_path / "run", {"max_steps": 10})
    try:
        with pytest.raises(RunError, match="being trained by another chartui process"):
            Trainer.resume(tmp_path / "run", {"max_steps": 10})
        loaded = open_model(tmp_path / "run")  # readers take no lock
        assert generate(loaded.model, loaded.vocab, length=10)
    finally:
        list(first)  # train it out; the lock is released at the end
    assert Run(tmp_path / "run").summary().status == "finished"
    Trainer.resume(tmp_path / "run", {"max_steps": 11}).close()


def test_the_split_is_the_last_tenth_contiguous(small_corpus):
    corpus = load_corpus(str(small_corpus))
    train, val = split_ids(corpus, corpus.vocab, 0.1)
    assert len(val) == int(len(corpus) * 0.1)
    assert np.array_equal(np.concatenate([train, val]), corpus.ids)
    assert corpus.vocab.decode(val) == corpus.text()[-len(val) :]


def test_training_and_evaluation_score_the_same_split(tiny_run):
    """The validation loss the trainer reported is what scoring Run.validation_ids gives."""
    run = Run(tiny_run)
    loaded = run.load("best")
    ids = run.validation_ids()
    assert len(ids) == run.info.corpus.val_chars
    assert evaluate_ids(loaded.model, ids).loss == pytest.approx(loaded.progress.best_val_loss, rel=1e-6)


def test_plan_resume_says_what_changes_and_what_conflicts(tiny_run, tmp_path):
    run = Run(copy_run(tiny_run, tmp_path / "run"))
    info = run.info
    same = run.plan_resume(info.model, info.train)
    assert same.resumable and not same.changes and same.nothing_to_train  # the run finished its budget
    more = run.plan_resume(info.model, dataclasses.replace(info.train, max_steps=90, lr=0.02))
    assert more.resumable and more.changes == {"max_steps": (60, 90), "lr": (0.01, 0.02)} and not more.nothing_to_train
    assert more.train.max_steps == 90 and more.model == info.model
    wider = run.plan_resume(dataclasses.replace(info.model, hidden=32), dataclasses.replace(info.train, seed=5))
    assert not wider.resumable and wider.conflicts == {"hidden": (16, 32), "seed": (1337, 5)}
    with pytest.raises(ConfigError, match=r"--hidden cannot change when resuming \(the run was trained with 16\)"):
        raise wider.refusal()
    extended = run.plan_resume(info.model, info.train, extend=True)  # "Continue": another budget's worth
    assert extended.train.max_steps == 120 and not extended.nothing_to_train


def test_a_resume_with_nothing_to_train_changes_nothing(tiny_run, tmp_path):
    run = copy_run(tiny_run, tmp_path / "run")
    before = {p.name: p.read_bytes() for p in run.iterdir()}
    with pytest.raises(NothingToTrain, match="nothing to train"):
        Trainer.resume(run)
    with pytest.raises(NothingToTrain):
        Trainer.resume(run, {"max_steps": 30})
    assert {p.name: p.read_bytes() for p in run.iterdir()} == before


def test_an_unchanged_model_flag_is_accepted_on_resume(tiny_run, tmp_path):
    run = copy_run(tiny_run, tmp_path / "run")
    events = list(Trainer.resume(run, {"hidden": 16, "layers": 2, "max_steps": 62}))
    assert events[0].resumed and events[-1].steps == 62


def test_run_json_follows_the_settings_a_resume_changed(tiny_run, tmp_path):
    run = copy_run(tiny_run, tmp_path / "run")
    list(Trainer.resume(run, {"max_steps": 62, "lr": 0.005}))
    info = Run(run).info
    assert info.train.max_steps == 62 and info.train.lr == 0.005
    assert read_meta(run / runs.LAST).run == info.to_dict()


def test_refused_trainings_leave_no_folder_behind(small_corpus, home):
    for bad in ({"batch_size": 100_000}, {"hidden": 10**7}):
        m, t = tiny_configs(small_corpus, **bad)
        with pytest.raises(Exception):  # noqa: B017 - each is a ChartuiError of its own kind
            Trainer.new(m, t)
    assert not (home / "checkpoints").exists() or not list((home / "checkpoints").iterdir())


# --- listing -------------------------------------------------------------------------------


def test_list_runs_summarises_each_run(tiny_run, tmp_path):
    root = tmp_path / "checkpoints"
    copy_run(tiny_run, root / "a")
    (root / "group" / "b").mkdir(parents=True)
    (root / "group" / "b" / runs.BEST).write_bytes((tiny_run / runs.BEST).read_bytes())
    (root / "junk").mkdir()
    (root / "junk" / runs.RUN_JSON).write_text("{not json")
    found = {r.name: r for r in list_runs(root)}
    assert set(found) == {"a", "b"}
    a = found["a"]
    assert a.label == "lstm 2x16" and a.info.params["total"] > 0 and a.status == "finished" and a.progress.best_val_loss > 0
    assert found["b"].info == a.info  # a lone checkpoint describes its run
    assert a.to_dict()["perplexity"] == pytest.approx(np.exp(a.progress.best_val_loss))


def _hostile_header(path, table: dict) -> None:
    raw = json.dumps(table).encode()
    path.write_bytes(struct.pack("<Q", len(raw)) + raw)


def test_listing_survives_hostile_metadata(tmp_path):
    root = tmp_path / "checkpoints"
    (root / "a").mkdir(parents=True)
    (root / "a" / runs.RUN_JSON).write_text(json.dumps(["not", "a", "table"]))
    (root / "b").mkdir()
    (root / "b" / runs.RUN_JSON).write_text(json.dumps({"model": "lstm", "corpus": 7, "params": [1]}))
    (root / "c").mkdir()
    meta = {"format": FORMAT, "version": 1, "model": ["x"], "step": "many", "best_val_loss": "low", "status": 3}
    _hostile_header(root / "c" / runs.LAST, {"__metadata__": {"chartui": json.dumps(meta)}})
    found = {r.name: r for r in list_runs(root)}
    assert set(found) == {"b", "c"}
    assert found["b"].info is None and found["b"].label == "-"
    assert found["c"].progress.step == 0 and found["c"].progress.best_val_loss is None
    assert json.dumps([r.to_dict() for r in found.values()])  # JSON-ready whatever the damage


# --- metrics.jsonl ---------------------------------------------------------------------------


def test_metrics_tolerate_a_torn_last_line_and_garbage(tmp_path):
    path = tmp_path / runs.METRICS
    writer = MetricsWriter(path)
    writer.write({"event": "step", "step": 1})
    writer.write({"event": "step", "step": 2})
    writer.close()
    follower = MetricsFollower(path)
    assert [r["step"] for r in follower.poll()] == [1, 2]
    with open(path, "a") as fh:
        fh.write('{"event": "eval", "step": "x"}\n{"event": "step", "st')  # a bad step, then a crash mid-write
    assert [r["step"] for r in read_metrics(path)] == [1, 2]
    assert follower.poll() == []
    with open(path, "a") as fh:
        fh.write('ep": 3}\n')
    assert [r["step"] for r in follower.poll()] == [3]
    trim_metrics(path, 2)
    assert [r["step"] for r in read_metrics(path)] == [1, 2]
    assert follower.restarts == 0
    assert [r["step"] for r in follower.poll()] == [1, 2]  # rewritten: read again from the start, and said so
    assert follower.restarts == 1


# --- runs written by chartui 0.1.0 (format 1) ---------------------------------------------------


@pytest.fixture
def format1_run(tmp_path):
    return write_format1_run(tmp_path)


def test_a_format_1_run_opens_samples_and_traces(format1_run):
    run = Run.open(format1_run)
    assert run.info.label == "lstm 2x16" and run.info.preset == "seed" and run.info.train.batching == "stateful"
    summary = run.summary()
    assert summary.status == "stopped" and summary.progress.step == 12 and summary.progress.best_val_loss == 3.9
    loaded = run.load("best")
    text = generate(loaded.model, loaded.vocab, prompt="KING ", length=40, seed=1)[0]
    assert len(text) == 40 and not loaded.vocab.unknown(text)
    assert trace(loaded.model, loaded.vocab, "KING RICHARD:\n").values(1, "cell").shape == (14, 16)
    assert len(run.validation_ids()) == run.info.corpus.val_chars


def test_a_format_1_run_resumes_and_is_then_format_2(format1_run):
    events = list(Trainer.resume(format1_run, {"max_steps": 20}))
    assert events[0].resumed and events[0].step == 12 and events[-1].reason == "budget" and events[-1].steps == 20
    assert read_meta(format1_run / runs.LAST).version == 2
    assert json.loads((format1_run / runs.RUN_JSON).read_text())["version"] == runs.RUN_VERSION
    assert next(r["step"] for r in read_metrics(format1_run / runs.METRICS) if r["event"] == "eval") == 6  # kept history


def test_cli_reads_a_format_1_run(format1_run):
    from tests.conftest import run_main

    code, out, err = run_main("eval", str(format1_run), "--json")
    assert code == 0, err
    assert json.loads(out)["step"] == 12


def test_configs_built_from_a_preset_match_the_presets_listing():
    m, t = build_configs(load_preset("seed"))
    assert (m.label, t.batching, t.epochs) == ("lstm 1x128", "windows", 10)


def test_a_run_json_from_a_newer_chartui_is_named_not_misread(tiny_run, tmp_path):
    run = copy_run(tiny_run, tmp_path / "run")
    table = json.loads((run / runs.RUN_JSON).read_text())
    (run / runs.RUN_JSON).write_text(json.dumps({**table, "version": 99}))
    with pytest.raises(RunError, match="written by a newer chartui"):
        _ = Run(run).info
    (summary,) = list_runs(tmp_path)
    assert summary.info is None and summary.label == "-"  # listed, not crashed on


def test_a_readers_probe_of_the_lock_does_not_refuse_a_trainer(tiny_run, tmp_path):
    """Readers test the lock by taking it for an instant; a trainer starting at that
    instant waits it out instead of reporting another trainer."""
    import fcntl
    import threading

    run = Run(copy_run(tiny_run, tmp_path / "run"))
    outcome: list = []
    with open(run.file(runs.LOCK), "a+b") as probe:
        fcntl.flock(probe, fcntl.LOCK_EX | fcntl.LOCK_NB)  # a reader's probe, caught mid-way

        def train() -> None:
            try:
                with run.lock():
                    outcome.append("locked")
            except RunError as exc:
                outcome.append(str(exc))

        thread = threading.Thread(target=train)
        thread.start()
        fcntl.flock(probe, fcntl.LOCK_UN)  # the probe ends
        thread.join(60)
    assert outcome == ["locked"]


def test_a_presets_fp32_variant_and_budget_tiers(tmp_path):
    from chartui.config import build_configs, load_preset

    path = tmp_path / "scaled.toml"
    path.write_text(
        "[model]\nhidden = 512\nweight_drop = 0.2\n[train]\nmax_seconds = 300.0\n"
        "[scale.600.model]\nweight_drop = 0.35\n"
        '[fp32.model]\nhidden = 384\n[fp32.train]\nprecision = "fp32"\n[fp32.scale.600.model]\ndropout = 0.3\n'
    )
    preset = load_preset(str(path))
    assert build_configs(preset)[0].hidden == 512 and build_configs(preset)[0].weight_drop == 0.2
    assert build_configs(preset, {"max_seconds": 900})[0].weight_drop == 0.35  # twice the time: more regularisation
    assert build_configs(preset, {"max_seconds": 120})[0].weight_drop == 0.2
    model, train = build_configs(preset, {"max_seconds": 600}, precision="fp32")
    assert (model.hidden, model.dropout, train.precision) == (384, 0.3, "fp32")
    assert build_configs(preset, {"max_seconds": 900, "hidden": 256})[0].hidden == 256  # flags win over everything
    # A variant without tiers of its own takes the preset's.
    (tmp_path / "untiered.toml").write_text(
        "[model]\nhidden = 512\n[scale.600.model]\ndropout = 0.4\n[fp32.model]\nhidden = 384\n"
    )
    model, _ = build_configs(load_preset(str(tmp_path / "untiered.toml")), {"max_seconds": 600}, precision="fp32")
    assert (model.hidden, model.dropout) == (384, 0.4)
    (tmp_path / "bad.toml").write_text("[scale.soon.model]\nhidden = 1\n")
    with pytest.raises(ConfigError, match=r"\[scale.soon\] must be named by a number of seconds"):
        load_preset(str(tmp_path / "bad.toml"))


def test_configs_for_machine_picks_the_fp32_variant_where_bf16_is_slower(tmp_path, monkeypatch):
    from chartui.config import load_preset
    from chartui.engine import precision

    path = tmp_path / "p.toml"
    path.write_text('[model]\nhidden = 64\n[train]\nmax_steps = 5\nprecision = "auto"\n[fp32.model]\nhidden = 32\n')
    preset = load_preset(str(path))
    monkeypatch.setattr(precision, "measure_bf16", lambda *a, **k: 0.5)  # a CPU without native bf16
    model, train = precision.configs_for_machine(preset)
    assert model.hidden == 32 and train.precision == "fp32"  # the fp32 model trains in fp32, never re-measured
    assert precision.configs_for_machine(preset, {"precision": "bf16"})[0].hidden == 64  # asked for: no measuring
    assert precision.configs_for_machine(preset, {"hidden": 48})[0].hidden == 48  # a flag wins over any variant
    monkeypatch.setattr(precision, "measure_bf16", lambda *a, **k: 2.0)  # another shape, measured on a CPU with bf16
    model, _ = precision.configs_for_machine(preset, {"embed": 9})
    assert (model.hidden, model.embed) == (64, 9)
