"""Sampling: greedy is argmax, masks do what they say, the same seed gives the same text."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from chartui.config import ModelConfig
from chartui.engine.corpus import Vocab
from chartui.engine.models import CharModel
from chartui.engine.sample import Sampler, filter_logits, generate, softmax, stream
from chartui.errors import ConfigError

VOCAB = Vocab("\n !',.:;?ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    m = CharModel(ModelConfig(arch="lstm", layers=2, embed=8, hidden=32), VOCAB.size)
    with torch.no_grad():
        m.head.weight.mul_(20)  # sharp distributions, so sampling knobs matter
    return m.eval()


def test_same_seed_same_text_and_different_seed_different_text(model):
    a = "".join(t.char for t in stream(model, VOCAB, prompt="KING ", length=200, seed=7))
    b = "".join(t.char for t in stream(model, VOCAB, prompt="KING ", length=200, seed=7))
    c = "".join(t.char for t in stream(model, VOCAB, prompt="KING ", length=200, seed=8))
    assert a == b and a != c and len(a) == 200


def test_greedy_equals_argmax_of_the_fused_model(model):
    tokens = list(stream(model, VOCAB, prompt="ROMEO:\n", length=40, temperature=0))
    text = "ROMEO:\n"
    for tok in tokens:
        with torch.no_grad():
            logits, _ = model(torch.from_numpy(VOCAB.encode(text))[None])
        probs = torch.softmax(logits[0, -1], -1)
        assert tok.index == int(probs.argmax())
        assert tok.prob == pytest.approx(float(probs.max()), abs=1e-5)
        text += tok.char


def test_top_k_keeps_exactly_k_candidates():
    logits = np.array([[1.0, 5.0, 3.0, 4.0, 2.0]])
    p = filter_logits(logits, temperature=1.0, top_k=2, top_p=None)
    assert np.count_nonzero(p) == 2 and p[0, 1] > p[0, 3] > 0 and p.sum() == pytest.approx(1)
    # k at least the vocabulary: nothing is cut
    assert np.count_nonzero(filter_logits(logits, temperature=1.0, top_k=99, top_p=None)) == 5


def test_top_p_keeps_the_smallest_set_reaching_p():
    probs = np.array([[0.5, 0.3, 0.15, 0.05]])
    logits = np.log(probs)
    assert np.count_nonzero(filter_logits(logits, temperature=1, top_k=None, top_p=0.5)) == 1
    assert np.count_nonzero(filter_logits(logits, temperature=1, top_k=None, top_p=0.75)) == 2
    assert np.count_nonzero(filter_logits(logits, temperature=1, top_k=None, top_p=0.85)) == 3
    tiny = filter_logits(logits, temperature=1, top_k=None, top_p=1e-9)
    assert tiny[0, 0] == 1.0  # the likeliest character always survives


def test_extreme_temperatures_stay_finite(model):
    cold = list(stream(model, VOCAB, prompt="A", length=30, temperature=1e-6, seed=1))
    greedy = list(stream(model, VOCAB, prompt="A", length=30, temperature=0))
    assert [t.char for t in cold] == [t.char for t in greedy]
    hot = list(stream(model, VOCAB, prompt="A", length=300, temperature=100, seed=1))
    assert len({t.char for t in hot}) > 20  # near uniform
    assert all(np.isfinite(t.prob) for t in hot)


def test_top_k_one_is_greedy_and_knobs_change_mid_stream(model):
    s = Sampler(model, VOCAB, prompt="A", temperature=1.0, top_k=1, seed=3)
    first = [t.char for t in s.tokens(20)]
    assert first == [t.char for t in stream(model, VOCAB, prompt="A", length=20, temperature=0)]
    s.set_knobs(temperature=2.0, top_k=None)
    assert s.temperature == 2.0 and s.top_k is None
    with pytest.raises(ConfigError, match="temperature"):
        s.set_knobs(temperature=-1)


def test_unseen_prompt_characters_are_named(model):
    with pytest.raises(ConfigError, match="never saw: '@', '~'"):
        Sampler(model, VOCAB, prompt="Hi @home ~")


@pytest.mark.parametrize(
    "kwargs, flag",
    [
        ({"temperature": -0.1}, "--temperature"),
        ({"top_k": 0}, "--top-k"),
        ({"top_p": 0.0}, "--top-p"),
        ({"top_p": 1.5}, "--top-p"),
    ],
)
def test_bad_knobs_are_refused(model, kwargs, flag):
    with pytest.raises(ConfigError, match=flag):
        Sampler(model, VOCAB, prompt="A", **kwargs)


def test_empty_and_huge_prompts(model):
    assert len(list(stream(model, VOCAB, prompt="", length=10))) == 10
    huge = ("To be, or not to be: that is the question.\n" * 2400)[:100_000]
    tokens = list(stream(model, VOCAB, prompt=huge, length=5, seed=2))
    assert len(tokens) == 5


def test_batch_mode_gives_independent_samples(model):
    texts = generate(model, VOCAB, prompt="A", length=50, num_samples=4, seed=1, temperature=1.0)
    assert len(texts) == 4 and all(len(t) == 50 for t in texts) and len(set(texts)) > 1


def test_softmax_is_stable():
    p = softmax(np.array([[1000.0, 0.0, -1000.0]]))
    assert np.isfinite(p).all() and p[0, 0] == pytest.approx(1.0)


# --- beam search ------------------------------------------------------------------------------


def test_beam_search_is_deterministic_and_one_beam_is_greedy(model):
    from chartui.engine.sample import beam_search

    a = beam_search(model, VOCAB, prompt="KING ", length=60, beams=4)
    b = beam_search(model, VOCAB, prompt="KING ", length=60, beams=4)
    assert [x.text for x in a] == [x.text for x in b] and len(a) == 4
    greedy = "".join(t.char for t in stream(model, VOCAB, prompt="KING ", length=60, temperature=0))
    assert beam_search(model, VOCAB, prompt="KING ", length=60, beams=1)[0].text == greedy


def test_beam_search_finds_text_at_least_as_likely_as_greedy(model):
    from chartui.engine.sample import beam_search

    greedy = beam_search(model, VOCAB, prompt="ROMEO:\n", length=80, beams=1)[0]
    wide = beam_search(model, VOCAB, prompt="ROMEO:\n", length=80, beams=8)
    assert wide[0].logprob >= greedy.logprob - 1e-9
    # The probabilities it reports are the model's, character by character.
    assert np.isclose(sum(np.log(wide[0].probs)), wide[0].logprob, atol=1e-4)
    assert [b.score for b in wide] == sorted((b.score for b in wide), reverse=True)


def test_the_length_penalty_decides_between_texts_of_different_lengths(model):
    from chartui.engine.sample import beam_search, length_penalty

    found = beam_search(model, VOCAB, prompt="KING ", length=120, beams=6, alpha=0.0, stop=" ")
    ended = [b for b in found if b.text.endswith(" ")]
    assert ended, "some hypothesis should end at the stop text"
    for b in found:
        assert np.isclose(b.score, b.logprob / length_penalty(len(b.text), 0.0))
    # alpha 0 ranks by total log-probability (short wins); a large alpha favours longer texts.
    short = beam_search(model, VOCAB, prompt="KING ", length=120, beams=6, alpha=0.0, stop=" ")[0]
    long = beam_search(model, VOCAB, prompt="KING ", length=120, beams=6, alpha=5.0, stop=" ")[0]
    assert len(long.text) >= len(short.text)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"beams": 0}, "--beam"),
        ({"alpha": -1.0}, "--length-penalty"),
        ({"stop": "\u00e9"}, "stop text"),
        ({"length": 0}, "--length"),
    ],
)
def test_beam_search_refuses_bad_settings(model, kwargs, message):
    from chartui.engine.sample import beam_search

    with pytest.raises(ConfigError, match=message):
        beam_search(model, VOCAB, **{"prompt": "KING ", "length": 10, **kwargs})


def test_the_numpy_replay_samples_exactly_as_the_torch_model(model):
    from chartui.engine.replay import Replay

    replay = Replay.from_arrays(model.config, {k: v.numpy() for k, v in model.state_dict().items()})
    a = "".join(t.char for t in stream(model, VOCAB, prompt="KING ", length=100, seed=3))
    b = "".join(t.char for t in stream(replay, VOCAB, prompt="KING ", length=100, seed=3))
    assert a == b


def test_an_empty_prompt_starts_from_what_the_model_knows(model):
    from chartui.engine.sample import beam_search

    # A newline where the model knows one, else its first character, in sampling and beam search alike.
    no_newline = Vocab(VOCAB.chars.replace("\n", ""))
    flat = CharModel(ModelConfig(arch="lstm", layers=1, embed=4, hidden=8), no_newline.size)
    assert len(beam_search(flat, no_newline, prompt="", length=10, beams=2)[0].text) == 10
    assert len(list(stream(flat, no_newline, prompt="", length=10))) == 10
    assert beam_search(model, VOCAB, prompt="", length=20, beams=2) == beam_search(model, VOCAB, prompt="\n", length=20, beams=2)
