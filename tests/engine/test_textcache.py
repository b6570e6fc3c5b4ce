"""The corpus cache: encoded once, memory-mapped after; a damaged or stale cache is rebuilt,
never trusted; a corpus far larger than memory would allow trains in bounded memory."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from chartui.engine.corpus import load_corpus
from chartui.engine.textcache import PIECE, load_encoded
from chartui.errors import CorpusError


def _cache_files(home):
    return sorted((home / "cache" / "corpora").glob("*.ids"))


def test_a_file_is_encoded_once_then_memory_mapped(home, small_corpus):
    first = load_corpus(str(small_corpus))
    (ids_file,) = _cache_files(home)
    stamp = ids_file.stat().st_mtime_ns
    again = load_corpus(str(small_corpus))
    assert isinstance(again.ids, np.memmap) and again.ids.dtype == np.uint8
    assert np.array_equal(again.ids, first.ids) and again.vocab == first.vocab and again.sha256 == first.sha256
    assert ids_file.stat().st_mtime_ns == stamp  # read from the cache, not written again
    assert int(again.counts.sum()) == len(again)


@pytest.mark.parametrize("damage", ["truncate", "flip", "meta"])
def test_a_damaged_cache_is_rebuilt_not_trusted(home, small_corpus, damage):
    good = load_corpus(str(small_corpus))
    expected, start = np.array(good.ids), good.text(0, 200)
    # Damage is done in place, as an outside hand would: drop our map of the file first
    # (touching a mapped page of a file truncated under it is a bus error, in any program).
    del good
    (ids_file,) = _cache_files(home)
    meta_file = ids_file.with_suffix(".json")
    if damage == "truncate":
        ids_file.write_bytes(ids_file.read_bytes()[:1000])
    elif damage == "flip":
        raw = bytearray(ids_file.read_bytes())
        raw[500] ^= 0x01
        ids_file.write_bytes(bytes(raw))
    else:
        meta_file.write_text("{not json")
    rebuilt = load_corpus(str(small_corpus))
    assert np.array_equal(rebuilt.ids, expected) and rebuilt.text(0, 200) == start


def test_a_changed_file_is_encoded_again(home, tmp_path):
    path = tmp_path / "t.txt"
    path.write_text("hello there\n" * 100)
    assert load_corpus(str(path)).text(0, 5) == "hello"
    path.write_text("other words\n" * 100)
    assert load_corpus(str(path)).text(0, 5) == "other"  # a stale cache is never used


def test_crlf_split_across_pieces_and_a_bom_are_undone(home, tmp_path, monkeypatch):
    from chartui.engine import textcache

    monkeypatch.setattr(textcache, "PIECE", 7)  # tiny pieces: every boundary case happens
    path = tmp_path / "crlf.txt"
    path.write_bytes("\ufeffab\r\ncd\r\néé\r\n東京\r\n".encode() * 20)
    enc = load_encoded(path, "crlf.txt")
    text = "".join(enc.chars[i] for i in enc.ids)
    assert text == "ab\ncd\néé\n東京\n" + "\ufeffab\ncd\néé\n東京\n" * 19  # the BOM only at the start is a BOM
    assert "\r" not in enc.chars and PIECE > 7


def test_bad_bytes_are_named_with_their_offset(home, tmp_path):
    path = tmp_path / "latin1.txt"
    path.write_bytes(b"plain ascii text\n" * 10 + "caf\u00e9".encode("latin-1"))
    with pytest.raises(CorpusError, match=r"byte 0xe9 at offset 173"):
        load_corpus(str(path))
    assert not list((home / "cache" / "corpora").glob("*.ids"))  # nothing half-built left behind


PEAK = """
import sys
from chartui.config import build_configs, load_preset
from chartui.engine.train import Trainer
def high_water_mb():
    return int(open("/proc/self/status").read().split("VmHWM:")[1].split()[0]) / 1024
def train(corpus, run):
    model, train = build_configs(load_preset("seed"), {"corpus": corpus, "hidden": 16, "embed": 8, "seq_len": 16,
        "batch_size": 8, "max_steps": 3, "eval_seconds": 0.0, "val_fraction": 0.0001, "precision": "fp32", "sample_epochs": [],
        "batching": sys.argv[4]})
    events = list(Trainer.new(model, train, run=run))
    assert events[-1].reason == "budget", events[-1]
train(sys.argv[1], sys.argv[3] + "-small")  # the same work on a small text: every import and buffer in place
base = high_water_mb()
train(sys.argv[2], sys.argv[3])
print(round(base), round(high_water_mb()))
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads the peak memory from /proc")
@pytest.mark.parametrize("batching", ["stateful", "windows"])
def test_a_100_mb_corpus_trains_in_memory_well_under_its_size(shakespeare_text, tmp_path, batching):
    path = tmp_path / "big.txt"
    chunk = shakespeare_text.encode("utf-8")
    with open(path, "wb") as fh:
        written = 0
        while written < 100_000_000:
            fh.write(chunk)
            written += len(chunk)
    small = tmp_path / "small.txt"
    small.write_bytes(chunk)
    res = subprocess.run(
        [sys.executable, "-c", PEAK, str(small), str(path), str(tmp_path / "run"), batching],
        capture_output=True,
        text=True,
        timeout=600,
        env={**__import__("os").environ, "CHARTUI_HOME": str(tmp_path / "home")},
    )
    assert res.returncode == 0, res.stderr[-2000:]
    base, peak = (int(v) for v in res.stdout.split())
    # Encoding reads 1 MB pieces and training reads batches from the memory map, so the corpus
    # adds far less than its 100 MB (a copy of the text would add 100 MB, its ids as int64 800
    # MB). Shuffled windows also keep their order: 4 bytes per window, 25 MB at --seq-len 16.
    limit = 40 if batching == "stateful" else 70
    assert peak - base < limit, (base, peak)


def test_where_the_cache_cannot_be_written_the_text_is_read_into_memory(home, small_corpus):
    expected = load_corpus(str(small_corpus))
    expected_ids = np.array(expected.ids)
    del expected
    import shutil

    shutil.rmtree(home / "cache")
    (home / "cache").write_text("a file where the cache folder should be")  # unwritable, even for root
    corpus = load_corpus(str(small_corpus))
    assert not isinstance(corpus.ids, np.memmap)
    assert np.array_equal(corpus.ids, expected_ids) and int(corpus.counts.sum()) == len(corpus)
    assert (home / "cache").is_file()


def test_a_failed_cache_write_leaves_no_partial_file(home, small_corpus, monkeypatch):
    import os as os_module

    from chartui.engine import textcache

    real_fsync = os_module.fsync

    def full(fd):
        real_fsync(fd)
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(textcache.os, "fsync", full)
    corpus = load_corpus(str(small_corpus))  # falls back to memory
    assert len(corpus) > 0
    assert not list((home / "cache" / "corpora").glob(".*.tmp")) and not _cache_files(home)
