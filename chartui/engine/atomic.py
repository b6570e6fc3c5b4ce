"""Files written so that readers see the old version or the new one, never half of either.

Every checkpoint, ``run.json`` and rewritten ``metrics.jsonl`` goes through ``atomic_write``:
a temporary file beside the target, written, fsynced, renamed over it, and the folder fsynced.
A crash at any moment leaves the previous file whole and at worst a ``.*.tmp`` file, which is
never read and is swept by ``remove_stale_temporaries``. Stdlib only.
"""

from __future__ import annotations

import errno
import json
import os
from pathlib import Path
from typing import Any

from chartui.errors import SaveError


def atomic_write(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically.

    Raises SaveError (disk full, read-only folder); the previous file is left untouched.
    """
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        try:
            view = memoryview(data)
            while view:
                written = os.write(fd, view)
                view = view[written:]
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
        _fsync_dir(path.parent)
    except OSError as exc:
        try:
            tmp.unlink()
        except OSError:
            pass
        raise SaveError(f"cannot save {path.name} in {path.parent}: {reason(exc)}; the previous {path.name} is intact") from None


def write_json(path: Path, obj: Any) -> None:
    """``obj`` as indented UTF-8 JSON, atomically."""
    atomic_write(path, (json.dumps(obj, indent=2, ensure_ascii=False) + "\n").encode("utf-8"))


def reason(exc: OSError) -> str:
    """Why a file operation failed, in words a user acts on."""
    if exc.errno == errno.ENOSPC:
        return "the disk is full"
    if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return "the folder is read-only"
    return exc.strerror or str(exc)


def remove_stale_temporaries(folder: Path) -> None:
    """Delete temporaries a crashed save left behind (they are never read)."""
    for tmp in Path(folder).glob(".*.tmp"):
        try:
            tmp.unlink()
        except OSError:
            pass


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
