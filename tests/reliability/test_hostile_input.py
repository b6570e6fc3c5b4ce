"""Hostile and odd input that the engine tests do not already cover: a 50 MB corpus in
bounded memory, a one-character corpus, metadata files holding pickles."""

from __future__ import annotations

import json
import pickle
import subprocess
import sys

import pytest

from chartui.engine import runs
from chartui.engine.metrics import read_metrics
from chartui.engine.runs import Run, open_model
from chartui.errors import ChartuiError, CorpusError
from tests.conftest import PATIENCE, train_run

BIG = """
import sys, time
from chartui.engine.corpus import load_corpus
start = time.perf_counter()
corpus = load_corpus(sys.argv[1])
seconds = time.perf_counter() - start
# VmHWM, not ru_maxrss: the latter survives exec, so it would report the forking pytest's size
status = open("/proc/self/status").read()
peak_mb = int(status.split("VmHWM:")[1].split()[0]) / 1024
print(len(corpus), corpus.vocab.size, round(seconds, 2), round(peak_mb))
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads the peak memory from /proc")
def test_a_50_mb_corpus_loads_in_seconds_in_bounded_memory(shakespeare_text, tmp_path):
    path = tmp_path / "big.txt"
    chunk = shakespeare_text.encode("utf-8")
    with open(path, "wb") as fh:
        written = 0
        while written < 50_000_000:
            fh.write(chunk)
            written += len(chunk)
    size = path.stat().st_size
    res = subprocess.run([sys.executable, "-c", BIG, str(path)], capture_output=True, text=True, timeout=3 * PATIENCE)
    assert res.returncode == 0, res.stderr
    chars, vocab, _seconds, peak_mb = res.stdout.split()
    assert int(chars) == size and int(vocab) == 75  # it loads: the time is the benchmarks' business
    # one byte per character for the ids, plus the text itself and a few MB of slices
    assert int(peak_mb) < 200 + 4 * size / 1e6, peak_mb


def test_a_one_character_corpus_is_refused_clearly(tmp_path):
    path = tmp_path / "one.txt"
    path.write_text("a")
    with pytest.raises(CorpusError, match="shorter than one batch"):
        train_run(path, tmp_path / "run")


def test_pickles_under_every_run_file_name_are_never_executed(tiny_run, tmp_path):
    import shutil

    class Payload:
        def __reduce__(self):
            return (open, (str(tmp_path / "pwned"), "w"))

    run = tmp_path / "run"
    shutil.copytree(tiny_run, run)
    blob = pickle.dumps(Payload())
    for name in (runs.RUN_JSON, runs.METRICS, runs.LAST, runs.BEST):
        (run / name).write_bytes(blob)
    for action in (lambda: open_model(run), lambda: open_model(run, "last"), lambda: Run(run).info, lambda: Run.open(run)):
        with pytest.raises(ChartuiError):
            action()
    assert read_metrics(run / runs.METRICS) == []
    assert Run(run).summary() is None
    assert not (tmp_path / "pwned").exists()


def test_a_corrupt_metrics_file_does_not_stop_listing_or_resuming(small_corpus, tmp_path):
    train_run(small_corpus, tmp_path / "run", max_steps=5)
    with open(tmp_path / "run" / runs.METRICS, "ab") as fh:
        fh.write(b"\x00\xff garbage {not json\n" + json.dumps({"event": "step", "step": 3}).encode()[:10])
    from chartui.engine.train import Trainer

    events = list(Trainer.resume(tmp_path / "run", {"max_steps": 8}))
    assert events[-1].steps == 8
    assert read_metrics(tmp_path / "run" / runs.METRICS)[-1]["event"] == "finished"
