"""Corpora: vocabulary by code point, exact round trips, splits, hostile files refused."""

from __future__ import annotations

import hashlib
import http.server
import threading
from pathlib import Path

import numpy as np
import pytest

from chartui.engine import corpus as C
from chartui.errors import CorpusError


def test_encode_decode_round_trip_for_any_unicode(tmp_path):
    text = "Hello, world!\nÉtude naïve — 東京タワー 🎭🎭 e\u0301 Ω\tend\n"
    path = tmp_path / "u.txt"
    path.write_text(text, encoding="utf-8")
    corpus = C.load_corpus(str(path))
    assert corpus.text() == text
    assert corpus.vocab.decode(corpus.vocab.encode(text)) == text
    # One id per code point: the combining accent and each emoji are characters of their own.
    assert len(corpus) == len(text)
    assert "\u0301" in corpus.vocab and "🎭" in corpus.vocab
    assert list(corpus.vocab.chars) == sorted(set(text))


def test_vocab_refuses_unknown_characters_unless_asked_to_skip():
    vocab = C.Vocab("abc")
    with pytest.raises(CorpusError, match="'z'"):
        vocab.encode("abz")
    assert vocab.decode(vocab.encode("abzc", skip_unknown=True)) == "abc"
    assert vocab.unknown("xbay") == ["x", "y"]


def test_large_vocab_uses_wide_ids(tmp_path):
    text = "".join(chr(0x4E00 + i) for i in range(300)) * 3
    path = tmp_path / "cjk.txt"
    path.write_text(text, encoding="utf-8")
    corpus = C.load_corpus(str(path))
    assert corpus.vocab.size == 300 and corpus.ids.dtype == np.int32
    assert corpus.text() == text


@pytest.mark.parametrize(
    "content, message",
    [
        (b"", "is empty"),
        (b"   \n\n", "only whitespace"),
        (b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 20, "binary"),
        (bytes(range(0, 32)) * 200, "binary"),
        ("café au lait, naïve".encode("latin-1"), "not UTF-8 text"),
    ],
    ids=["empty", "blank", "png", "controls", "latin-1"],
)
def test_hostile_files_are_refused_with_a_clear_message(tmp_path, content, message):
    path = tmp_path / "bad.txt"
    path.write_bytes(content)
    with pytest.raises(CorpusError, match=message):
        C.load_corpus(str(path))


def test_missing_corpus_names_the_choices(tmp_path):
    with pytest.raises(CorpusError, match=r"no corpus at .*shakespeare"):
        C.load_corpus(str(tmp_path / "nope.txt"))


def test_a_stray_nul_byte_is_a_character_not_a_refusal(tmp_path):
    text = "To be, or not to be\x00 that is the question.\n" * 50
    path = tmp_path / "nul.txt"
    path.write_text(text, encoding="utf-8")
    corpus = C.load_corpus(str(path))
    assert "\x00" in corpus.vocab and corpus.text() == text


def test_very_long_lines_and_crlf(tmp_path):
    path = tmp_path / "long.txt"
    path.write_bytes(("x" * 200_000 + "\r\n").encode() * 3)
    corpus = C.load_corpus(str(path))
    assert len(corpus) == 3 * 200_001 and "\r" not in corpus.vocab


def test_folder_reads_text_files_and_skips_the_rest(tmp_path):
    folder = tmp_path / "mixed"
    (folder / "sub").mkdir(parents=True)
    (folder / "a.py").write_text("def f():\n    return 1\n")
    (folder / "sub" / "b.txt").write_text("lyrics, la la la\n")
    (folder / "image.png").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(300))
    (folder / "latin.txt").write_bytes("ça".encode("latin-1"))
    (folder / ".git").mkdir()
    (folder / ".git" / "HEAD").write_text("ref: refs/heads/main\n")
    corpus = C.load_corpus(str(folder))
    assert corpus.files == ["a.py", "sub/b.txt"]
    assert len(corpus.skipped) == 2
    assert corpus.text() == "def f():\n    return 1\n\nlyrics, la la la\n"


def test_folder_without_text_is_refused(tmp_path):
    folder = tmp_path / "bin"
    folder.mkdir()
    (folder / "x.bin").write_bytes(bytes(range(256)))
    with pytest.raises(CorpusError, match="no UTF-8 text files"):
        C.load_corpus(str(folder))


def test_shakespeare_is_built_in_the_classic_play_format(home, shakespeare_text):
    corpus = C.load_corpus("shakespeare")
    text = corpus.text()
    assert text == shakespeare_text  # deterministic
    assert len(text) > 4_000_000
    assert text.startswith("THESEUS:\nNow, fair Hippolyta, our nuptial hour\n")
    assert not set("#*_[]\\—") & set(text)  # no Markdown left, no em dash
    speeches = text.split("\n\n")
    assert all(s.split("\n", 1)[0].endswith(":") for s in speeches[:-1])
    assert list((home / "data").glob("shakespeare-*.txt"))  # cached under data/


def test_play_conversion_choices():
    md = (
        "# A Play\n\n## ACT I\n\n### SCENE I. A heath.\n\n_Thunder. Enter three Witches_\n\n"
        "**First Witch**  \nWhen shall we three meet again  \n_\\[Aside]_ In thunder\\-or in rain?  \n\n"
        "*Exit, with\na flourish.*\n\nOr in lightning\u2014and rain?\n\n"
        "## ACT II\n\nwrapped direction text.\n\n**ALL**  \nFair is foul &amp; foul is fair.  \n"
    )
    assert C.play_to_text(md) == (
        "First Witch:\nWhen shall we three meet again\nIn thunder-or in rain?\nOr in lightning--and rain?\n\n"
        "ALL:\nFair is foul & foul is fair.\n\n"
    )


class _Handler(http.server.BaseHTTPRequestHandler):
    payload = b""

    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Length", str(len(self.payload)))
        self.end_headers()
        self.wfile.write(self.payload)

    def log_message(self, *args):
        pass


@pytest.fixture
def local_server():
    server = http.server.HTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server, f"http://127.0.0.1:{server.server_address[1]}/input.txt"
    server.shutdown()


def test_tinyshakespeare_download_is_verified_and_cached(home, local_server, monkeypatch):
    server, url = local_server
    payload = b"First Citizen:\nBefore we proceed any further, hear me speak.\n"
    _Handler.payload = payload
    monkeypatch.setattr(C, "TINY_SHA256", hashlib.sha256(payload).hexdigest())
    corpus = C.load_corpus("tinyshakespeare", url=url)
    assert corpus.text() == payload.decode()
    assert (home / "data" / C.TINY_FILE).read_bytes() == payload
    server.shutdown()  # the cache is used from now on: no network needed
    assert C.load_corpus("tinyshakespeare", url=url).text() == payload.decode()


def test_tinyshakespeare_with_wrong_checksum_saves_nothing(home, local_server):
    _, url = local_server
    _Handler.payload = b"not the real file\n"
    with pytest.raises(CorpusError, match="not tiny-shakespeare"):
        C.load_corpus("tinyshakespeare", url=url)
    assert not (home / "data" / C.TINY_FILE).exists()


def test_tinyshakespeare_offline_says_where_to_put_the_file(home):
    with pytest.raises(CorpusError, match=r"offline, put the file .* at .*tinyshakespeare\.txt"):
        C.load_corpus("tinyshakespeare", url="http://127.0.0.1:9/input.txt")


def test_real_tinyshakespeare_copy_is_accepted_when_placed_in_data(home):
    shared = Path(__file__).resolve().parents[3] / "shared" / "data" / "tinyshakespeare.txt"
    if not shared.is_file():
        pytest.skip("the shared tiny-shakespeare copy is not on this machine")
    (home / "data" / C.TINY_FILE).write_bytes(shared.read_bytes())
    corpus = C.load_corpus("tinyshakespeare")
    assert len(corpus) == 1_115_394 and corpus.vocab.size == 65


def test_stats_count_whitespace_and_rank_characters(tmp_path):
    path = tmp_path / "s.txt"
    path.write_text("aa bb\n" * 10)
    stats = C.corpus_stats(C.load_corpus(str(path)))
    assert stats["chars"] == 60 and stats["vocab_size"] == 4
    assert [row["char"] for row in stats["top"]][:2] == ["a", "b"] or stats["top"][0]["count"] == 20
    assert stats["whitespace_share"] == pytest.approx(20 / 60)
    assert {row["label"] for row in stats["top"]} >= {"SP", "\\n"}


def test_text_that_starts_like_a_bitmap_is_still_text(tmp_path):
    path = tmp_path / "bmi.csv"
    path.write_text("BMI,age,height\n22.5,31,180\n" * 20)
    assert C.load_corpus(str(path)).text().startswith("BMI,age")
