"""Where chartui keeps its runs (``checkpoints/``) and its corpus cache (``data/``).

The home folder is, in order: ``$CHARTUI_HOME``; the project checkout when chartui is
installed from one (``pip install -e .``, as the README does), so runs land in the
repository's ``checkpoints/``; otherwise ``$XDG_DATA_HOME/chartui`` (``~/.local/share/chartui``).
"""

from __future__ import annotations

import os
from pathlib import Path


def home() -> Path:
    """The folder that holds ``checkpoints/`` and ``data/``."""
    env = os.environ.get("CHARTUI_HOME")
    if env:
        return Path(env).expanduser()
    checkout = Path(__file__).resolve().parent.parent
    if (checkout / "pyproject.toml").is_file() and (checkout / "models").is_dir():
        return checkout
    xdg = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(xdg) / "chartui"


def runs_dir() -> Path:
    """Default parent folder of training runs."""
    return home() / "checkpoints"


def data_dir() -> Path:
    """Corpus cache (built Shakespeare, downloaded tiny-shakespeare)."""
    return home() / "data"


def cache_dir() -> Path:
    """Small measurements chartui remembers (which precision is faster on this machine)."""
    return home() / "cache"


def shown(path: str | Path) -> str:
    """``path`` as a person reads it: relative to chartui's home when inside it
    (``data/tinyshakespeare.txt``), ``~/...`` inside the user's home, else as it is."""
    p = Path(path)
    if not p.is_absolute():
        return str(p)
    for base, prefix in ((home(), ""), (Path.home(), "~/")):
        try:
            return prefix + str(p.relative_to(base))
        except ValueError:
            continue
    return str(p)
