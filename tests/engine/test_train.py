"""The trainer: loss falls, runs repeat, resume equals no interruption, control works."""

from __future__ import annotations

import itertools
import json
import math
import threading

import pytest
import torch

from chartui.engine import runs as ck
from chartui.engine.checkpoint import read_meta
from chartui.engine.events import CheckpointSaved, EvalDone, Finished, Paused, Resumed, SampleReady, Started, StepDone
from chartui.engine.metrics import read_metrics
from chartui.engine.train import Cadence, Trainer
from chartui.errors import ConfigError, CorpusError, RunError
from tests.conftest import tiny_configs, train_run


class FakeClock:
    """A clock that moves only when told to (``advance``), or by ``tick`` at every reading."""

    def __init__(self, tick: float = 0.0) -> None:
        self.now, self.tick = 0.0, tick

    def __call__(self) -> float:
        self.now += self.tick
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def _losses(events):
    return [e.loss for e in events if isinstance(e, StepDone)]


@pytest.fixture(scope="module")
def short_corpus(shakespeare_text, tmp_path_factory):
    """3,000 characters: a tiny batch geometry crosses several epochs in a few dozen steps."""
    path = tmp_path_factory.mktemp("short") / "short.txt"
    path.write_text(shakespeare_text[:3_000])
    return path


@pytest.mark.parametrize("arch", ["rnn", "lstm", "gru"])
def test_loss_falls_for_every_architecture(small_corpus, tmp_path, arch):
    _, events = train_run(small_corpus, tmp_path / arch, arch=arch, hidden=32, max_steps=80, lr=0.02)
    losses = _losses(events)
    assert len(losses) == 80
    first, last = sum(losses[:5]) / 5, sum(losses[-10:]) / 10
    assert last < first - 0.8, (first, last)
    finished = events[-1]
    assert isinstance(finished, Finished) and finished.reason == "budget"
    assert finished.val_loss is not None and finished.val_loss < math.log(65)


def test_events_arrive_in_order_and_metrics_are_kept(small_corpus, tmp_path):
    trainer, events = train_run(
        small_corpus, tmp_path / "run", max_steps=30, eval_interval=10, sample_interval=15, metrics_every=5
    )
    assert isinstance(events[0], Started) and isinstance(events[-1], Finished)
    kinds = [e.kind for e in events]
    assert kinds.count("step") == 30 and kinds.count("eval") == 3 and kinds.count("sample") >= 2
    started = events[0]
    assert started.info.params["total"] == sum(started.info.params[k] for k in ("embedding", "recurrent", "head"))
    evals = [e for e in events if isinstance(e, EvalDone)]
    assert [e.step for e in evals] == [10, 20, 30]
    assert {e.which for e in events if isinstance(e, CheckpointSaved)} == {"last", "best"}
    records = read_metrics(tmp_path / "run" / ck.METRICS)
    assert [r["step"] for r in records if r["event"] == "step"] == [5, 10, 15, 20, 25, 30]
    assert records[-1]["event"] == "finished" and records[-1]["steps"] == 30
    info = json.loads((tmp_path / "run" / ck.RUN_JSON).read_text())
    assert info["vocab"] == trainer.vocab.chars and info["corpus"]["chars"] > 30_000
    assert "step 15" in (tmp_path / "run" / ck.SAMPLES).read_text()


def test_same_seed_same_losses_and_samples(small_corpus, tmp_path):
    kw = dict(max_steps=25, dropout=0.2, layers=2, sample_interval=25, batching="stateful")
    _, a = train_run(small_corpus, tmp_path / "a", **kw)
    _, b = train_run(small_corpus, tmp_path / "b", **kw)
    _, c = train_run(small_corpus, tmp_path / "c", **kw, seed=99)
    assert _losses(a) == _losses(b) != _losses(c)
    samples = lambda evs: [e.text for e in evs if isinstance(e, SampleReady)]
    assert samples(a) == samples(b) and samples(a)


@pytest.mark.parametrize("batching", ["stateful", "windows"])
def test_resume_equals_an_uninterrupted_run(short_corpus, tmp_path, batching):
    kw = dict(max_steps=50, layers=2, dropout=0.25, batching=batching, schedule="cosine", warmup_steps=5, sample_interval=20)
    whole, whole_events = train_run(short_corpus, tmp_path / "whole", **kw)
    assert whole.steps_per_epoch <= 25  # the run crosses epoch boundaries

    m, t = tiny_configs(short_corpus, **kw)
    part = Trainer.new(m, t, run=tmp_path / "part")
    first = []
    for ev in part:
        first.append(ev)
        if isinstance(ev, StepDone) and ev.step == 17:
            part.stop()
    assert first[-1].reason == "stopped" and first[-1].steps == 17
    state = read_meta(tmp_path / "part" / ck.LAST).state
    assert state["status"] == "stopped" and state["step"] == 17

    resumed = Trainer.resume(tmp_path / "part")
    rest = list(resumed)
    assert rest[0].resumed and rest[0].step == 17
    assert _losses(first) + _losses(rest) == _losses(whole_events)
    for (name, a), b in zip(whole.model.state_dict().items(), resumed.model.state_dict().values()):
        assert torch.equal(a, b), name
    assert rest[-1].val_loss == whole_events[-1].val_loss
    # metrics after the checkpoint were redone, not duplicated
    steps = [r["step"] for r in read_metrics(tmp_path / "part" / ck.METRICS) if r["event"] == "step"]
    assert steps == sorted(set(steps))


def test_resume_can_extend_the_budget_but_not_change_the_model(small_corpus, tmp_path):
    train_run(small_corpus, tmp_path / "run", max_steps=10)
    with pytest.raises(ConfigError, match="--hidden cannot change when resuming"):
        Trainer.resume(tmp_path / "run", {"hidden": 64})
    events = list(Trainer.resume(tmp_path / "run", {"max_steps": 15, "lr": 0.005}))
    assert events[-1].steps == 15 and events[0].info.train.lr == 0.005


def test_resume_refuses_a_folder_that_is_not_a_run(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(RunError, match="not a chartui run folder"):
        Trainer.resume(tmp_path / "empty")
    with pytest.raises(RunError, match="no run at"):
        Trainer.resume(tmp_path / "missing")


def test_new_run_refuses_to_overwrite_an_existing_run(small_corpus, tmp_path):
    train_run(small_corpus, tmp_path / "run", max_steps=3)
    with pytest.raises(RunError, match="already holds a run"):
        train_run(small_corpus, tmp_path / "run", max_steps=3)


def test_pause_holds_training_and_paused_time_is_not_training_time(small_corpus, tmp_path):
    clock = FakeClock()
    m, t = tiny_configs(small_corpus, max_steps=40)
    trainer = Trainer.new(m, t, run=tmp_path / "run", clock=clock)
    seen: list = []
    paused = threading.Event()

    def consume():
        for ev in trainer:
            seen.append(ev)
            if isinstance(ev, StepDone) and ev.step == 5:
                trainer.pause()
            if isinstance(ev, Paused):
                paused.set()

    thread = threading.Thread(target=consume)
    thread.start()
    assert paused.wait(60)
    assert trainer.paused and trainer.step == 5
    clock.advance(1000.0)  # a long pause
    trainer.unpause()
    thread.join(60)
    kinds = [ev.kind for ev in seen]
    at = kinds.index("paused")
    assert kinds[at + 1] == "resumed" and seen[at + 2].step == 6  # it went on where it held
    assert seen[-1].steps == 40 and seen[-1].elapsed < 1000.0  # the 1000 s paused did not count


def test_cadences_fire_on_steps_and_on_seconds():
    every = Cadence(10, 0.0, step=17, elapsed=0.0)  # resumed at step 17: keeps the beat of 10
    assert not every.due(19, 0.0) and every.due(20, 0.0)
    timed = Cadence(0, 30.0, step=0, elapsed=5.0)
    assert not timed.due(100, 34.0) and timed.due(1, 35.0)
    timed.done(1, 35.0)
    assert not timed.due(2, 60.0) and timed.due(2, 65.0)
    assert not Cadence(0, 0.0, step=0, elapsed=0.0).due(10**6, 1e9)  # both off: never


def test_stop_while_paused_saves_and_ends(small_corpus, tmp_path):
    m, t = tiny_configs(small_corpus, max_steps=1000)
    trainer = Trainer.new(m, t, run=tmp_path / "run")
    events = []
    for ev in trainer:
        events.append(ev)
        if isinstance(ev, StepDone) and ev.step == 3:
            trainer.pause()
        if isinstance(ev, Paused):
            trainer.stop()
    assert events[-1].reason == "stopped" and not any(isinstance(e, Resumed) for e in events)
    assert read_meta(tmp_path / "run" / ck.LAST).state["step"] == 3


def test_stop_during_an_evaluation_saves_without_finishing_the_score(small_corpus, tmp_path, monkeypatch):
    """On a busy machine a whole score can take a minute; a user who quits must not wait for it."""
    import functools

    from chartui.engine import evaluate, train

    monkeypatch.setattr(train, "evaluate_ids", functools.partial(evaluate.evaluate_ids, chunk=4))  # many blocks
    m, t = tiny_configs(small_corpus, max_steps=1000, eval_interval=5)
    trainer = Trainer.new(m, t, run=tmp_path / "run")
    scored = []

    def stop_once_scoring(module, inputs, output) -> None:
        if not module.training:  # a forward pass of the evaluation
            scored.append(True)
            trainer.stop()

    trainer.model.register_forward_hook(stop_once_scoring)
    events = list(trainer)
    assert len(scored) == 1  # the score ended after its first block
    assert not any(isinstance(e, EvalDone) for e in events)
    assert events[-1].reason == "stopped" and events[-1].steps == 5
    assert read_meta(tmp_path / "run" / ck.LAST).state["status"] == "stopped"


def test_the_final_evaluation_completes_even_if_stop_is_asked_during_it(small_corpus, tmp_path):
    m, t = tiny_configs(small_corpus, max_steps=6)
    trainer = Trainer.new(m, t, run=tmp_path / "run")

    def stop_while_scoring(module, inputs, output) -> None:
        if not module.training:
            trainer.stop()

    trainer.model.register_forward_hook(stop_while_scoring)
    events = list(trainer)
    assert [e.step for e in events if isinstance(e, EvalDone)][-1] == 6
    assert events[-1].reason == "budget"


def test_divergence_stops_and_keeps_the_last_good_checkpoint(small_corpus, tmp_path):
    train_run(small_corpus, tmp_path / "run", max_steps=10)
    good = (tmp_path / "run" / ck.LAST).read_bytes()
    events = list(Trainer.resume(tmp_path / "run", {"max_steps": 30, "lr": 1e3}))
    finished = events[-1]
    assert finished.reason == "diverged" and "diverged" in finished.message and "--lr" in finished.message
    assert finished.steps <= 13  # caught within a step or two
    assert (tmp_path / "run" / ck.LAST).read_bytes() == good


def test_checkpoints_on_a_time_cadence(small_corpus, tmp_path):
    m, t = tiny_configs(small_corpus, max_seconds=1.5, checkpoint_seconds=0.3)
    events = list(Trainer.new(m, t, run=tmp_path / "run", clock=FakeClock(tick=0.01)))
    saves = [e for e in events if isinstance(e, CheckpointSaved) and e.which == "last"]
    assert 5 <= len(saves) <= 7  # the first, one per 0.3 s of the 1.5 s, the last


def test_corpus_shorter_than_a_batch_is_refused_before_anything_is_written(tmp_path):
    path = tmp_path / "short.txt"
    path.write_text("tiny corpus\n" * 3)
    with pytest.raises(CorpusError, match="shorter than one batch"):
        train_run(path, tmp_path / "run")
    assert not (tmp_path / "run" / ck.RUN_JSON).exists()


def test_learning_rate_schedule_warms_up_then_decays(small_corpus, tmp_path):
    _, events = train_run(small_corpus, tmp_path / "run", max_steps=40, warmup_steps=10, schedule="cosine", lr=0.01)
    lrs = [e.lr for e in events if isinstance(e, StepDone)]
    assert lrs[0] == pytest.approx(0.001) and lrs[9] == pytest.approx(0.01)
    assert lrs[-1] < lrs[20] < lrs[10] and lrs[-1] >= 0.001 - 1e-9


def test_snapshot_is_a_detached_cpu_copy(small_corpus, tmp_path):
    trainer, _ = train_run(small_corpus, tmp_path / "run", max_steps=5)
    snap = trainer.snapshot()
    for a, b in zip(snap.parameters(), trainer.model.parameters()):
        assert torch.equal(a, b) and a.data_ptr() != b.data_ptr()


def test_a_relative_corpus_path_is_recorded_absolute(small_corpus, tmp_path, monkeypatch):
    monkeypatch.chdir(small_corpus.parent)
    trainer, _ = train_run(small_corpus.name, tmp_path / "run", max_steps=3)
    assert trainer.config.corpus == str(small_corpus.resolve())
    monkeypatch.chdir(tmp_path)
    assert list(Trainer.resume(tmp_path / "run", {"max_steps": 5}))[-1].steps == 5


@pytest.mark.parametrize("seconds", [0.5, 0.61, 0.73])
def test_every_step_is_reported_when_losses_are_gathered_in_groups(small_corpus, tmp_path, seconds):
    """log_every > 1 (one host sync per group): a time budget that ends mid-group still
    reports every step it trained, and the checkpoint agrees."""
    m, t = tiny_configs(small_corpus, max_seconds=seconds, log_every=7)
    events = list(Trainer.new(m, t, run=tmp_path / "run", clock=FakeClock(tick=0.01)))
    steps = [e.step for e in events if isinstance(e, StepDone)]
    finished = events[-1]
    assert finished.reason == "budget" and steps == list(range(1, finished.steps + 1))
    assert read_meta(tmp_path / "run" / ck.LAST).state["step"] == finished.steps


def test_checkpoint_seconds_zero_saves_as_often_as_it_can(small_corpus, tmp_path):
    _, events = train_run(small_corpus, tmp_path / "run", max_steps=6, checkpoint_seconds=0.0)
    assert sum(1 for e in events if isinstance(e, CheckpointSaved) and e.which == "last") >= 7  # the first, each step, the last


def test_time_based_evaluations_keep_to_their_share_of_the_training_time():
    evaluate = Cadence(0, 10.0, step=0, elapsed=0.0)
    assert evaluate.due(1, 10.0)
    evaluate.done(1, 10.0)
    evaluate.space(10.0, took=1.5, share=0.03)  # an evaluation that took 1.5 s: the next waits 50 s
    assert not evaluate.due(2, 20.0) and not evaluate.due(3, 59.0) and evaluate.due(4, 60.0)
    steps = Cadence(10, 0.0, step=0, elapsed=0.0)
    steps.space(0.0, took=100.0, share=0.03)
    assert steps.due(10, 1.0)  # an explicit --eval-interval is kept as asked


def test_linear_and_cosine_schedules_reach_the_floor_exactly_at_the_budget(small_corpus, tmp_path):
    for schedule in ("linear", "cosine"):
        _, events = train_run(small_corpus, tmp_path / schedule, max_steps=20, schedule=schedule, min_lr_ratio=0.0, lr=0.01)
        lrs = [e.lr for e in events if isinstance(e, StepDone)]
        assert lrs[0] == pytest.approx(0.01) and lrs[-1] == pytest.approx(
            0.01 * 0.5 * (1 + math.cos(math.pi * 19 / 20)) if schedule == "cosine" else 0.01 / 20
        )
        assert all(a >= b for a, b in itertools.pairwise(lrs))  # never rises
