"""A text file encoded once into character ids, cached on disk and memory-mapped.

The first load reads the file in pieces (bounded memory, whatever its size): one pass checks
and decodes it (UTF-8, BOM dropped, CRLF folded) while counting its characters and hashing
its text, a second pass writes the ids, in the narrowest integer type that fits (uint8 for
up to 256 distinct characters), to ``cache/corpora/<hash>.ids`` beside a JSON description
(vocabulary, counts, checksums). Later loads hash the file again, find the cache by that hash,
check the cache's own checksum and size, and memory-map it: a 1 GB corpus loads in about a
second and costs no memory until read. A corrupt, truncated or stale cache is rebuilt, never
trusted. numpy and the stdlib only.
"""

from __future__ import annotations

import codecs
import contextlib
import hashlib
import json
import os
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from chartui.engine.atomic import atomic_write
from chartui.errors import CorpusError, SaveError
from chartui.paths import cache_dir

CACHE_VERSION = 1
PIECE = 1 << 20  # bytes read at a time (a piece costs about 8x this in memory while encoded)
# Byte signatures of common binary formats, refused before decoding. (Only signatures no text
# file starts with: the share of control bytes catches the rest.)
MAGIC = (b"\x89PNG", b"\xff\xd8\xff", b"GIF8", b"%PDF", b"PK\x03\x04", b"\x1f\x8b", b"\x7fELF", b"RIFF")


@dataclass(frozen=True)
class Encoded:
    """A file's text as ids: the memory map, the vocabulary, the text's hash, its counts."""

    ids: np.ndarray
    """(N,) read-only memory map of character ids."""
    chars: str
    """The vocabulary, in code-point order."""
    sha256: str
    """Of the text as UTF-8 (after BOM and CRLF are undone): what runs record."""
    counts: np.ndarray
    """(V,) how often each character occurs."""


def looks_binary(raw: bytes) -> bool:
    """True for bytes no text file starts with, or a head of mostly control bytes."""
    if raw.startswith(MAGIC):
        return True
    head = raw[: 1 << 16]
    controls = sum(head.count(bytes([b])) for b in range(32) if b not in (9, 10, 12, 13)) + head.count(b"\x7f")
    # Plain text has almost no control bytes; a few NULs (a stray terminator) are tolerated.
    return controls > 0.1 * len(head)


def load_encoded(path: Path, label: str) -> Encoded:
    """The file at ``path`` encoded, from the cache when it is sound, else encoded now."""
    raw_sha = file_sha256(path, label)
    folder = cache_dir() / "corpora"
    meta_path, ids_path = folder / f"{raw_sha[:32]}.json", folder / f"{raw_sha[:32]}.ids"
    meta = _sound(meta_path, ids_path, raw_sha)
    if meta is None:
        meta = _build(path, label, raw_sha, meta_path, ids_path)
    ids = np.memmap(ids_path, dtype=np.dtype(meta["dtype"]), mode="r", shape=(meta["chars"],))
    return Encoded(ids=ids, chars=meta["vocab"], sha256=meta["sha256"], counts=np.asarray(meta["counts"], dtype=np.int64))


def file_sha256(path: Path, label: str) -> str:
    """sha256 of the file's bytes, read in pieces."""
    digest = hashlib.sha256()
    try:
        with open(path, "rb") as fh:
            while piece := fh.read(PIECE):
                digest.update(piece)
    except IsADirectoryError:
        raise CorpusError(f"{label} is a folder; give it as a folder corpus") from None
    except OSError as exc:
        raise CorpusError(f"cannot read {label}: {exc.strerror or exc}") from None
    return digest.hexdigest()


def text_pieces(path: Path, label: str) -> Iterator[str]:
    """The file's text in pieces, checked and normalised as ``decode_text`` does for whole
    texts; CorpusError (one line) for an empty, binary or non-UTF-8 file."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    offset, pending_cr, any_words, first = 0, "", False, True
    with open(path, "rb") as fh:
        while True:
            raw = fh.read(PIECE)
            if first:
                if not raw:
                    raise CorpusError(f"{label} is empty; give a text file with some characters in it")
                if looks_binary(raw):
                    raise CorpusError(f"{label} looks like a binary file, not text; give a UTF-8 text file")
            held = decoder.getstate()[0]  # the previous piece's unfinished character, if any
            try:
                text = decoder.decode(raw, final=not raw)
            except UnicodeDecodeError as exc:
                data = held + raw
                at = offset - len(held) + exc.start
                bad = data[exc.start] if exc.start < len(data) else 0
                raise CorpusError(
                    f"{label} is not UTF-8 text (byte 0x{bad:02x} at offset {at}); "
                    f"convert it first, e.g. iconv -f latin1 -t utf-8 {label} > {label}.utf8"
                ) from None
            offset += len(raw)
            if first:
                text = text.removeprefix("\ufeff")
                first = False
            text = pending_cr + text
            pending_cr = ""
            if raw and text.endswith("\r"):  # its \n may open the next piece
                text, pending_cr = text[:-1], "\r"
            text = text.replace("\r\n", "\n")
            any_words = any_words or bool(text.strip())
            if text:
                yield text
            if not raw:
                break
    if not any_words:
        raise CorpusError(
            f"{label} holds only whitespace ({offset:,} bytes of spaces and newlines); give a text with words in it"
        )


class CacheUnwritable(CorpusError):
    """The corpus cache cannot be written here (a read-only home, a full disk)."""


def code_points(text: str) -> np.ndarray:
    """(len(text),) the text's Unicode code points."""
    return np.frombuffer(text.encode("utf-32-le"), dtype="<u4")


@dataclass(frozen=True)
class Tally:
    """What one pass over a text learns: its hash, its characters, how to map them to ids."""

    sha256: str
    chars: int
    vocab: str
    """The distinct characters, in code-point order."""
    counts: np.ndarray
    """(V,) occurrences of each."""
    lut: np.ndarray
    """code point -> id, in the narrowest type that fits (uint8 up to 256 characters)."""


def tally(pieces: Iterable[str]) -> Tally:
    """Count and hash a text given in pieces (bounded memory), and build its vocabulary."""
    digest, counts, total = hashlib.sha256(), np.zeros(0, dtype=np.int64), 0
    for piece in pieces:
        digest.update(piece.encode("utf-8"))
        c = np.bincount(code_points(piece))
        if len(c) > len(counts):
            c[: len(counts)] += counts
            counts = c
        else:
            counts[: len(c)] += c
        total += len(piece)
    used = np.nonzero(counts)[0]
    dtype = np.uint8 if len(used) <= 256 else np.int32
    lut = np.zeros(int(used[-1]) + 1 if len(used) else 0, dtype=dtype)
    lut[used] = np.arange(len(used), dtype=dtype)
    vocab = used.astype("<u4").tobytes().decode("utf-32-le")
    return Tally(digest.hexdigest(), total, vocab, counts[used], lut)


def _discard(path: Path) -> None:
    with contextlib.suppress(OSError):
        path.unlink()


class _Changed(Exception):
    """The file's second reading differs from its first."""


def _build(path: Path, label: str, raw_sha: str, meta_path: Path, ids_path: Path) -> dict:
    """Encode the file into the cache (two passes, bounded memory); returns its description.
    CacheUnwritable where the cache cannot be written."""
    t = tally(text_pieces(path, label))  # pass 1: check, count, hash
    dtype = t.lut.dtype
    tmp = ids_path.with_name(f".{ids_path.name}.{os.getpid()}.tmp")
    try:
        ids_path.parent.mkdir(parents=True, exist_ok=True)
        crc, written = 0, 0
        with open(tmp, "wb") as out:
            for piece in text_pieces(path, label):  # pass 2: the ids
                points = code_points(piece)
                if len(points) and int(points.max()) >= len(t.lut):
                    raise _Changed
                block = t.lut[points].tobytes()
                crc = zlib.crc32(block, crc)
                out.write(block)
                written += len(points)
            out.flush()
            os.fsync(out.fileno())
        if written != t.chars:
            raise _Changed
        os.replace(tmp, ids_path)
        meta = {
            "version": CACHE_VERSION,
            "source_sha256": raw_sha,
            "sha256": t.sha256,
            "chars": t.chars,
            "vocab": t.vocab,
            "dtype": np.dtype(dtype).name,
            "counts": t.counts.tolist(),
            "crc32": crc,
            "source": str(path),
        }
        atomic_write(meta_path, json.dumps(meta, ensure_ascii=False).encode("utf-8"))
    except _Changed:
        _discard(tmp)
        raise CorpusError(f"{label} changed while it was being read; run again once nothing is writing to it") from None
    except (OSError, SaveError) as exc:
        _discard(tmp)  # a partial ids file can be gigabytes
        why = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise CacheUnwritable(f"cannot write the corpus cache in {ids_path.parent}: {why}") from None
    return meta


def _sound(meta_path: Path, ids_path: Path, raw_sha: str) -> dict | None:
    """The cache's description if the cache can be trusted: made by this version, from these
    bytes, its ids file whole (size and checksum). None otherwise (it will be rebuilt)."""
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        if (
            meta.get("version") != CACHE_VERSION
            or meta.get("source_sha256") != raw_sha
            or ids_path.stat().st_size != meta["chars"] * np.dtype(meta["dtype"]).itemsize
            or len(meta["counts"]) != len(meta["vocab"])
        ):
            return None
        crc = 0
        with open(ids_path, "rb") as fh:
            while block := fh.read(PIECE):
                crc = zlib.crc32(block, crc)
        return meta if crc == meta["crc32"] else None
    except (OSError, ValueError, KeyError, TypeError):
        return None
