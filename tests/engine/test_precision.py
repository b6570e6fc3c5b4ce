"""Precision: bf16 only where it is measured faster, the measurement remembered, evaluation
always in fp32; the regularisers act in training only."""

from __future__ import annotations

import json

import pytest
import torch

from chartui.config import ModelConfig
from chartui.engine import runs
from chartui.engine.evaluate import evaluate_ids
from chartui.engine.models import CharModel
from chartui.engine.precision import bf16_runs, choose_precision
from chartui.engine.runs import Run
from chartui.engine.sample import generate
from chartui.engine.train import Trainer
from chartui.errors import ConfigError
from tests.conftest import tiny_configs

CPU = torch.device("cpu")


def test_auto_keeps_bf16_only_where_it_is_measured_faster(home):
    calls: list[str] = []

    def measured(ratio):
        def measure():
            calls.append("measured")
            return ratio

        return measure

    fast = choose_precision("auto", CPU, shape="lstm 1x512", measure=measured(2.1))
    assert fast.name == "bf16" and fast.dtype == torch.bfloat16 and "2.10x" in fast.reason
    slow = choose_precision("auto", CPU, shape="lstm 1x128", measure=measured(0.6))
    assert slow.name == "fp32" and slow.dtype is None and "0.60x" in slow.reason
    assert choose_precision("auto", CPU, shape="lstm 1x512", measure=measured(0.1)).name == "bf16"  # remembered
    assert calls == ["measured", "measured"]
    assert len(json.loads((home / "cache" / "precision.json").read_text())) == 2
    assert choose_precision("fp32", CPU, shape="x", measure=measured(9.0)).name == "fp32"
    assert choose_precision("bf16", CPU, shape="x", measure=measured(0.1)).name == "bf16"
    assert calls == ["measured", "measured"]  # asked-for precisions measure nothing


def test_processes_deciding_at_once_measure_once_and_agree(home):
    # The ranks of a torchrun job decide together; one measures while the others wait for its
    # answer (their own timings would compete for the same cores and might disagree).
    import threading

    calls: list[int] = []
    first_is_measuring, may_finish = threading.Event(), threading.Event()

    def measure():
        calls.append(1)
        first_is_measuring.set()
        may_finish.wait(30)
        return 1.5 if len(calls) == 1 else 0.5  # a second measurement would disagree

    answers: list[str] = []

    def decide():
        answers.append(choose_precision("auto", CPU, shape="lstm 1x384", measure=measure).name)

    first = threading.Thread(target=decide)
    first.start()
    assert first_is_measuring.wait(30)
    second = threading.Thread(target=decide)
    second.start()  # finds no answer yet: waits on the lock while the first measures
    may_finish.set()
    first.join(30)
    second.join(30)
    assert calls == [1] and answers == ["bf16", "bf16"]


def test_bf16_asked_for_where_the_cpu_cannot_run_it_is_one_line():
    with pytest.raises(
        ConfigError, match=r"^--precision bf16: this CPU cannot run this model in bf16 .*use --precision fp32 or auto$"
    ):
        choose_precision("bf16", CPU, shape="x", measure=lambda: 2.0, runs=lambda: False)


def test_a_run_says_what_it_chose_and_evaluates_in_fp32(small_corpus, tmp_path):
    m, t = tiny_configs(small_corpus, precision="bf16", max_steps=20, eval_interval=20)
    if not bf16_runs(m, CPU):  # a CPU without native bf16 (AVX2 only): refused, tested above
        with pytest.raises(ConfigError, match="this CPU cannot run this model in bf16"):
            Trainer.new(m, t, run=tmp_path / "run")
        assert not (tmp_path / "run").exists()  # nothing left behind
        pytest.skip("this CPU cannot run the LSTM in bf16: the refusal is what was checked")
    trainer = Trainer.new(m, t, run=tmp_path / "run")
    events = list(trainer)
    started = events[0]
    assert started.precision.startswith("bf16") and started.info.precision == "bf16"
    assert json.loads((tmp_path / "run" / runs.RUN_JSON).read_text())["precision"] == "bf16"
    # the reported validation loss is the fp32 score of the weights, not a bf16 one
    fp32 = evaluate_ids(trainer.model, Run(tmp_path / "run").validation_ids()).loss
    assert events[-1].val_loss == pytest.approx(fp32, rel=1e-9)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        bf16 = evaluate_ids(trainer.model, Run(tmp_path / "run").validation_ids()).loss
    assert bf16 != fp32  # bf16 would have given another number


def test_a_bad_precision_is_one_line():
    with pytest.raises(ConfigError, match="unknown precision 'fp8'; choose one of auto, fp32, bf16"):
        tiny_configs("x", precision="fp8")


@pytest.mark.parametrize("setting", ["weight_drop", "input_dropout", "output_dropout", "embed_dropout"])
def test_each_regulariser_acts_in_training_and_never_in_evaluation_or_sampling(setting):
    torch.manual_seed(0)
    config = ModelConfig(arch="lstm", layers=2, embed=8, hidden=32, **{setting: 0.5})
    model = CharModel(config, vocab_size=20)
    plain = CharModel(ModelConfig(arch="lstm", layers=2, embed=8, hidden=32), vocab_size=20)
    plain.load_state_dict(model.state_dict())
    idx = torch.randint(0, 20, (4, 30))
    model.train()
    with torch.no_grad():
        a, _ = model(idx)
        b, _ = model(idx)
    assert not torch.allclose(a, b)  # a fresh mask each call: it acts
    model.eval()
    plain.eval()
    with torch.no_grad():
        assert torch.equal(model(idx)[0], plain(idx)[0])  # evaluation sees every weight, unscaled
    from chartui.engine.corpus import Vocab

    vocab = Vocab("".join(chr(65 + i) for i in range(20)))
    model.train()  # even left in training mode, sampling switches the model to evaluation
    assert generate(model, vocab, prompt="ABC", length=40, seed=3) == generate(plain, vocab, prompt="ABC", length=40, seed=3)


def test_weight_drop_trains_through_the_fused_kernel_and_reaches_the_raw_weights():
    torch.manual_seed(0)
    model = CharModel(ModelConfig(arch="gru", embed=8, hidden=16, weight_drop=0.3), vocab_size=10).train()
    logits, _ = model(torch.randint(0, 10, (2, 12)))
    logits.sum().backward()
    assert model.rnn.weight_hh_l0.grad is not None and model.rnn.weight_hh_l0.grad.abs().sum() > 0
    assert type(model.rnn).__mro__[1] is torch.nn.GRU  # torch's own module, not a Python loop
