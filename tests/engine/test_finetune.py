"""Fine-tuning: a new run starts from another run's weights, on new text; its vocabulary is
the source's, extended only when asked, with every old character's rows kept."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from chartui.engine import finetune
from chartui.engine.corpus import load_corpus
from chartui.engine.runs import open_model
from chartui.engine.train import Trainer
from chartui.errors import ConfigError, CorpusError
from tests.conftest import run_main, tiny_configs, train_run


@pytest.fixture(scope="module")
def source(small_corpus, tmp_path_factory):
    run = tmp_path_factory.mktemp("ft") / "source"
    train_run(small_corpus, run, max_steps=40)
    return run


def _new_text(tmp_path, extra: str = "") -> str:
    path = tmp_path / "new.txt"
    path.write_text(("Now is the winter of our discontent\nMade glorious summer by this sun of York;\n" + extra) * 60)
    return str(path)


def test_a_fine_tune_starts_from_the_source_weights(source, tmp_path):
    text = _new_text(tmp_path)
    corpus = load_corpus(text)
    src = finetune.open_source(source, corpus.vocab, extend=False)
    m, t = tiny_configs(text, max_steps=5)
    trainer = Trainer.new(finetune.model_config(src, m, {}), t, run=tmp_path / "ft", corpus=corpus, init_from=src)
    want = open_model(source).model.state_dict()
    for name, value in trainer.model.state_dict().items():
        assert torch.equal(value, want[name]), name  # every weight carried over, none re-initialised
    assert trainer.optimizer.state == {}  # a fresh optimizer
    list(trainer)
    info = json.loads((tmp_path / "ft" / "run.json").read_text())
    assert info["init_from"]["run"] == str(source) and info["init_from"]["step"] == 40 and info["init_from"]["vocab_added"] == ""
    assert info["vocab"] == open_model(source).vocab.chars  # the source's vocabulary


def test_unknown_characters_are_named_or_added_with_old_rows_kept(source, tmp_path):
    text = _new_text(tmp_path, extra="\u03a9\u03c8 \u00e9\n")
    corpus = load_corpus(text)
    with pytest.raises(CorpusError, match=r"3 character\(s\) the model never saw: .*--extend-vocab"):
        finetune.open_source(source, corpus.vocab, extend=False)
    src = finetune.open_source(source, corpus.vocab, extend=True)
    assert src.added == "\u00e9\u03a9\u03c8" and set(src.vocab.chars) == set(src.loaded.vocab.chars) | set(src.added)
    m, t = tiny_configs(text, max_steps=5)
    trainer = Trainer.new(finetune.model_config(src, m, {}), t, run=tmp_path / "ft", corpus=corpus, init_from=src)
    old, new = src.loaded.vocab, src.vocab
    before = src.loaded.model.state_dict()
    after = trainer.model.state_dict()
    rows = [new.index(c) for c in old.chars]
    for name in ("embedding.weight", "head.weight", "head.bias"):
        assert torch.equal(after[name][rows], before[name]), name  # each old character's rows, at its new index
    added = [new.index(c) for c in src.added]
    assert torch.all(after["head.bias"][added] == before["head.bias"].min())  # new characters start unlikely
    # Text of old characters only: the same hidden states, so the same ranking of old characters.
    ids_old = torch.from_numpy(old.encode("Now is the winter"))[None]
    ids_new = torch.from_numpy(new.encode("Now is the winter"))[None]
    with torch.no_grad():
        a, _ = src.loaded.model(ids_old)
        b, _ = trainer.model.eval()(ids_new)
    assert torch.allclose(a[0, :, :], b[0][:, rows], atol=1e-6)


def test_the_shape_is_the_sources_and_a_changed_shape_is_refused(source, tmp_path):
    text = _new_text(tmp_path)
    src = finetune.open_source(source, load_corpus(text).vocab, extend=False)
    m, _ = tiny_configs(text, hidden=64, dropout=0.3)
    with pytest.raises(ConfigError, match=r"--hidden 64: a fine-tuned run keeps the shape .* \(hidden 16\)"):
        finetune.model_config(src, m, {"hidden": 64})
    kept = finetune.model_config(src, m, {"dropout": 0.3})
    assert kept.hidden == 16 and kept.dropout == 0.3  # regularisation may change, the shape may not


def test_the_command_line_fine_tunes_and_refuses_what_it_cannot(source, tmp_path):
    text = _new_text(tmp_path, extra="\u00e9\n")
    flags = [
        "--corpus",
        text,
        "--max-steps",
        "3",
        "--precision",
        "fp32",
        "--threads",
        "1",
        "--seq-len",
        "16",
        "--batch-size",
        "8",
    ]
    code, _, err = run_main("train", *flags, "--init-from", str(source), "--run", str(tmp_path / "a"))
    assert code == 2 and "never saw" in err and "Traceback" not in err and not (tmp_path / "a").exists()
    code, _, err = run_main("train", *flags, "--extend-vocab", "--run", str(tmp_path / "b"))
    assert code == 2 and "--init-from" in err and not (tmp_path / "b").exists()
    code, _, err = run_main("train", *flags, "--init-from", str(source), "--extend-vocab", "--run", str(tmp_path / "c"))
    assert code == 0, err
    info = json.loads((tmp_path / "c" / "run.json").read_text())
    assert info["init_from"]["vocab_added"] == "\u00e9"
    loaded = open_model(tmp_path / "c")
    assert np.array_equal(loaded.vocab.encode("\u00e9"), [loaded.vocab.index("\u00e9")])
