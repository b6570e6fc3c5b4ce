"""Fuzzing with Hypothesis: whatever bytes or values arrive, chartui gives a correct result or
a one-line ChartuiError, never a traceback, and never writes outside the run folder.

Each target's example count is fixed (``EXAMPLES``) so the suite stays fast and repeatable;
``pytest --hypothesis-show-statistics tests/reliability/test_fuzz.py`` reports them.
"""

from __future__ import annotations

import json
import os
import struct
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chartui.config import build_configs, load_preset
from chartui.display import escape, unescape
from chartui.engine import runs
from chartui.engine.checkpoint import FORMAT, read_meta
from chartui.engine.corpus import Vocab, decode_text
from chartui.engine.metrics import read_metrics, trim_metrics
from chartui.engine.runs import Run, RunInfo, load_checkpoint, load_replay
from chartui.errors import ChartuiError

EXAMPLES = 150
FUZZ = settings(
    max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=12,
)


def _one_line(exc: ChartuiError) -> None:
    assert str(exc) and "\n" not in str(exc)


def _listing(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


@FUZZ
@given(st.binary(max_size=600))
def test_corpus_bytes_decode_to_text_that_round_trips_or_are_refused(raw):
    try:
        text = decode_text(raw, "fuzz.txt")
    except ChartuiError as exc:
        _one_line(exc)
        return
    vocab = Vocab("".join(sorted(set(text))))
    assert vocab.decode(vocab.encode(text)) == text


@FUZZ
@given(st.text(max_size=200))
def test_any_unicode_text_is_one_character_per_code_point(text):
    if not text:
        return
    vocab = Vocab("".join(sorted(set(text))))
    ids = vocab.encode(text)
    assert len(ids) == len(text) and vocab.decode(ids) == text


@FUZZ
@given(st.text(max_size=80))
def test_typed_escapes_never_fail_and_round_trip(text):
    assert unescape(escape(text)) == text
    unescape(text)  # any typed text is accepted


@FUZZ
@given(st.text(max_size=400))
def test_preset_files_load_or_are_refused_in_one_line(tmp_path_factory, toml):
    path = tmp_path_factory.mktemp("preset") / "fuzz.toml"
    path.write_text(toml, encoding="utf-8")
    try:
        preset = load_preset(str(path))
        build_configs(preset)
    except ChartuiError as exc:
        _one_line(exc)


@FUZZ
@given(st.dictionaries(st.sampled_from(["model", "train", "vocab", "corpus", "preset", "version", "created"]), json_values))
def test_run_json_reads_as_a_description_or_a_one_line_error(tmp_path_factory, table):
    parent = tmp_path_factory.mktemp("fuzzrun")  # its own parent: a write beside the run would show
    folder = parent / "run"
    folder.mkdir()
    (folder / runs.RUN_JSON).write_text(json.dumps(table))
    before = _listing(parent)
    try:
        info = Run(folder).info
        assert isinstance(info, RunInfo)
    except ChartuiError as exc:
        _one_line(exc)
    Run(folder).summary()  # listing never fails
    assert _listing(parent) == before  # reading writes nothing


@FUZZ
@given(st.lists(st.one_of(json_values.map(json.dumps), st.binary(max_size=40).map(lambda b: b.decode("latin-1"))), max_size=12))
def test_metrics_lines_read_back_or_are_skipped(tmp_path_factory, lines):
    path = tmp_path_factory.mktemp("metrics") / runs.METRICS
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    for record in read_metrics(path):
        assert isinstance(record, dict) and isinstance(record.get("step", 0), int)
    trim_metrics(path, 10)


def _checkpoint_bytes(tiny_run: Path) -> bytes:
    return (tiny_run / runs.BEST).read_bytes()


@FUZZ
@given(data=st.data())
def test_mutated_checkpoints_load_or_are_refused_in_one_line(tmp_path_factory, tiny_run, data):
    blob = bytearray(_checkpoint_bytes(tiny_run))
    for _ in range(data.draw(st.integers(1, 4))):
        kind = data.draw(st.sampled_from(["flip", "cut", "insert"]))
        at = data.draw(st.integers(0, len(blob) - 1))
        if kind == "flip":
            blob[at] ^= data.draw(st.integers(1, 255))
        elif kind == "cut":
            del blob[at:]
        else:
            blob[at:at] = data.draw(st.binary(min_size=1, max_size=16))
        if not blob:
            break
    folder = tmp_path_factory.mktemp("ckpt")
    path = folder / runs.BEST
    path.write_bytes(bytes(blob))
    for load in (load_checkpoint, load_replay):  # through torch, and the numpy path of sample and gates
        try:
            loaded = load(path)
            assert loaded.model is not None
        except ChartuiError as exc:
            _one_line(exc)
    assert os.listdir(folder) == [runs.BEST]


@FUZZ
@given(st.dictionaries(st.text(max_size=12), json_values, max_size=5), st.binary(max_size=64))
def test_hostile_safetensors_headers_are_refused_in_one_line(tmp_path_factory, header, tail):
    table = {
        "__metadata__": {"chartui": json.dumps({"format": FORMAT, "version": 2, **header})},
        **{k: v for k, v in header.items() if k},
    }
    raw = json.dumps(table, default=str).encode()
    path = tmp_path_factory.mktemp("hdr") / "x.safetensors"
    path.write_bytes(struct.pack("<Q", len(raw)) + raw + tail)
    try:
        read_meta(path)
    except ChartuiError as exc:
        _one_line(exc)


@pytest.fixture(autouse=True)
def _quiet_hypothesis_database(monkeypatch, tmp_path):
    # Hypothesis keeps failing examples in .hypothesis/ under the current folder: keep it out of the checkout.
    monkeypatch.chdir(tmp_path)
